"""HTML pages (run report, backtest report, Data Docs index) from the Jinja2 templates in
`tasks/templates/`, every value escaped (autoescape), with one table macro and one figure
encoder shared by all of them."""

import base64
import functools
import io
from typing import TYPE_CHECKING, Any

import jinja2

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("tasks", "templates"),
        autoescape=True,  # every value is text, whatever it holds (`<script>` in an event type)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_page(template: str, **context: Any) -> str:
    """The page `template` (a file in tasks/templates/) rendered with `context`."""
    return _environment().get_template(template).render(**context)


def new_figure(width: float = 8, height: float = 3.6) -> "Figure":
    """An empty figure (inches); matplotlib is imported only by pages that draw one."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def png_data_uri(figure: "Figure") -> str:
    """The figure as a `data:image/png;base64,…` URI (no timestamp: same data, same bytes)."""
    buffer = io.BytesIO()
    # constrained layout fits every element: no "tight" bounding box (a second draw)
    figure.savefig(buffer, format="png", dpi=96, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
