"""Inline event frames for the scoring tests: rows of text, parsed the way readers parse them."""

from collections.abc import Callable, Sequence

import polars as pl
import pytest

from scoring.events import ROW_ID, timestamp_from_text

EventRow = tuple[str, str, str, str]
"""event_id, customer_id, event_type, occurred_at as ISO 8601 text."""

MakeEvents = Callable[[Sequence[EventRow]], pl.LazyFrame]


def events_frame(rows: Sequence[EventRow]) -> pl.LazyFrame:
    """Typed events (occurred_at parsed to UTC) with `_row` = position in `rows`."""
    raw = pl.DataFrame(
        [list(row) for row in rows],
        schema={
            "event_id": pl.String,
            "customer_id": pl.String,
            "event_type": pl.String,
            "occurred_at_text": pl.String,
        },
        orient="row",
    )
    parsed = raw.with_columns(
        timestamp_from_text(pl.col("occurred_at_text")),
        pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW_ID),
    )
    # text that does not parse would silently vanish from every window: fail loudly instead
    assert parsed["occurred_at"].null_count() == 0, parsed.filter(pl.col("occurred_at").is_null())
    return parsed.drop("occurred_at_text").lazy()


@pytest.fixture
def make_events() -> MakeEvents:
    """Build a typed event LazyFrame from (event_id, customer_id, event_type, text) rows."""
    return events_frame
