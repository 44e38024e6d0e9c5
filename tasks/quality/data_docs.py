"""Run Great Expectations suites in one context per process, and write each run's Data Docs.

GX validates in one ephemeral context per process, made once (about 0.3 s) and reused by every
run and suite of the process (a served deployment, a backfill, the `engage server` runner). Each
suite's validation result is rendered at once with GX's own page renderer into the run's Data
Docs site in its staging directory (`<staging>/data_docs/run_date=YYYY-MM-DD/validations/
<suite>.html`); publishing moves the site next to the outputs. The site's `index.html` is a
static page of ours: every suite's outcomes (the output tables' contract checks too) with
links to GX's pages. GX's site builder, its stores and its static assets are not used.
"""

import copy
import functools
import html
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from tasks.pages import render_page
from tasks.quality.expectations import Rule, expectation_label

if TYPE_CHECKING:
    import pandas as pd  # GX validates pandas frames: imported with GX, when a suite runs

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

DATA_DOCS = "data_docs"
FAILED_DOCS = "failed"
VALIDATIONS = "validations"


def docs_dir(root: str | Path, run_date: date) -> Path:
    """The Data Docs site of a run date under an output (or staging) directory."""
    return Path(root) / DATA_DOCS / f"run_date={run_date.isoformat()}"


def failed_docs_dir(output: str | Path, run_date: date) -> Path:
    """Where the Data Docs of a run that failed the gate are kept (outputs stay untouched)."""
    return Path(output) / DATA_DOCS / FAILED_DOCS / f"run_date={run_date.isoformat()}"


@dataclass(frozen=True)
class Outcome:
    """The result of one expectation, as shown in the manifest, artifact and messages."""

    suite: str
    expectation: str
    reason: str
    severity: str
    success: bool
    unexpected_count: int | None
    observed_value: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.cache
def _batch_definition() -> Any:
    """The process's GX context and its one whole-dataframe batch definition, made once and
    reused for every frame validated (call under the GX lock)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX pins this module's logger to INFO and logs a line per context
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return (
        context.data_sources.add_or_update_pandas("engage")
        .add_dataframe_asset("frames")
        .add_batch_definition_whole_dataframe("whole")
    )


def warm_context() -> None:
    """Make the process's GX context now (a process that forks runs makes it once for all)."""
    with _GX_LOCK:
        _batch_definition()


_GX_LOCK = threading.RLock()
_P = ParamSpec("_P")
_R = TypeVar("_R")


def serialized(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `function` under the process-wide GX lock: GX's data contexts and stores are not
    thread-safe, and concurrent runs of the daily flow (a backfill) share a process."""

    @functools.wraps(function)
    def locked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _GX_LOCK:
            return function(*args, **kwargs)

    return locked


def validation_page(result: Any, run_date: date) -> str:
    """GX's HTML page of a suite's validation result (values HTML-escaped: shown_in_data_docs)."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    shown = shown_in_data_docs(result)
    run_id = RunIdentifier(run_name=f"run_date={run_date.isoformat()}", run_time=datetime.now(UTC))
    shown.meta = {**result.meta, "run_id": run_id, "validation_time": run_id.run_time}
    shown.meta["batch_parameters"] = {"dataframe": "<DATAFRAME>"}  # as a checkpoint records it
    return str(DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(shown)))


def escaped_for_html(value: Any) -> Any:
    """`value` with every string in it (walking lists, tuples and dicts) HTML-escaped."""
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, dict):
        return {escaped_for_html(key): escaped_for_html(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(escaped_for_html(item) for item in value)
    return value


def shown_in_data_docs(result: Any) -> Any:
    """A copy of a suite's validation result whose observed and unexpected values are
    HTML-escaped: GX's page templates put them into tables as raw HTML (its autoescape
    covers only `.html` templates, not its `.j2` ones), so an event type `<script>…` would
    run in the validation page."""
    shown = copy.copy(result)
    shown.results = []
    for outcome in result.results:
        escaped = copy.copy(outcome)
        escaped.result = escaped_for_html(outcome.result)
        shown.results.append(escaped)
    return shown


@serialized
def run_suite(
    suite_name: str,
    frame: "pd.DataFrame",
    rules: list[Rule],
    run_date: date,
    staging: str | Path | None = None,
    unexpected_values: bool = False,
) -> tuple[list[Outcome], dict[int, list[Any]]]:
    """Validate the whole `frame` against `rules` as the suite `suite_name`; with `staging`,
    GX's page of the result goes into the run's Data Docs when an expectation failed or warned.
    Returns every expectation's outcome, in rule order, and with
    `unexpected_values` the values that failed each failing rule (for small frames).
    """
    import great_expectations as gx

    for index, rule in enumerate(rules):
        rule.expectation.meta = {"rule": index, "reason": rule.reason}
    suite = gx.ExpectationSuite(name=suite_name, expectations=[r.expectation for r in rules])
    # SUMMARY: counts and a sample; lists of every failing row would dominate the run
    result_format = {"result_format": "COMPLETE" if unexpected_values else "SUMMARY"}
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    validation = batch.validate(suite, result_format=result_format)
    if staging is not None and not validation.success:
        # a passing suite's page shows only check marks: the index lists every expectation
        page = docs_dir(staging, run_date) / VALIDATIONS / f"{suite_name}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(validation_page(validation, run_date), encoding="utf-8")
    by_rule = {int(r.expectation_config.meta["rule"]): r for r in validation.results}
    outcomes, failing = [], {}
    for index, rule in enumerate(rules):
        outcome = by_rule[index]
        details = outcome.result or {}
        observed = details.get("observed_value")
        severity = rule.expectation.severity
        outcomes.append(
            Outcome(
                suite=suite_name,
                expectation=expectation_label(rule.expectation),
                reason=rule.reason,
                severity=str(getattr(severity, "value", severity)),
                success=bool(outcome.success),
                unexpected_count=details.get("unexpected_count"),
                observed_value=None if observed is None else str(observed),
            )
        )
        if unexpected_values and details.get("unexpected_list") is not None:
            failing[index] = list(details["unexpected_list"])
    return outcomes, failing


@serialized
def failing_row_ids(
    suspects: "pd.DataFrame", rules: dict[int, Rule], index_column: str
) -> dict[int, list[Any]]:
    """Per rule index, the `index_column` values GX reports as failing (COMPLETE format).

    Run on the suspect rows only (not part of the Data Docs).
    """
    import great_expectations as gx

    expectations = []
    for index, rule in rules.items():
        copy = rule.expectation.copy(update={"id": None}, deep=True)
        copy.meta = {"rule": index}
        expectations.append(copy)
    suite = gx.ExpectationSuite(name="suspect_rows", expectations=expectations)
    # a plain RangeIndex: GX lists failing positions in one vectorized step (a named index
    # or `unexpected_index_column_names` costs ~40 µs per failing row)
    batch = _batch_definition().get_batch(
        batch_parameters={"dataframe": suspects.reset_index(drop=True)}
    )
    result = batch.validate(
        suite, result_format={"result_format": "COMPLETE", "partial_unexpected_count": 0}
    )
    row_ids = suspects[index_column].to_numpy()
    failing: dict[int, list[Any]] = {}
    for outcome in result.results:
        positions = (outcome.result or {}).get("unexpected_index_list") or []
        failing[int(outcome.expectation_config.meta["rule"])] = row_ids[positions].tolist()
    return failing


def build_data_docs(staging: str | Path, run_date: date, outcomes: list[Outcome]) -> Path:
    """Write the run's Data Docs index: every suite validated, its outcomes and the link to
    GX's page of its validation result (rendered by run_suite)."""
    site = docs_dir(staging, run_date)
    site.mkdir(parents=True, exist_ok=True)
    (site / "index.html").write_text(static_index(site, outcomes, run_date), encoding="utf-8")
    return site / "index.html"


@dataclass(frozen=True)
class SuiteSummary:
    """One suite on the index page: its outcomes and links (label, href) to its GX pages."""

    name: str
    outcomes: list[Outcome]
    links: list[tuple[str, str]]

    @property
    def passed(self) -> int:
        return sum(o.success for o in self.outcomes)


def suite_summaries(site: Path, outcomes: list[Outcome]) -> list[SuiteSummary]:
    """Per suite validated (in order): its outcomes and its GX validation page, if any (the
    output tables' contract checks have none)."""
    summaries = []
    for suite in dict.fromkeys(o.suite for o in outcomes):
        page = site / VALIDATIONS / f"{suite}.html"
        links = [("validation result", f"{VALIDATIONS}/{suite}.html")] if page.exists() else []
        summaries.append(SuiteSummary(suite, [o for o in outcomes if o.suite == suite], links))
    return summaries


def static_index(site: Path, outcomes: list[Outcome], run_date: date) -> str:
    """A self-contained HTML page: per suite, links to its GX pages and a results table."""
    return render_page(
        "data_docs_index.html",
        run_date=run_date,
        suites=suite_summaries(site, outcomes),
        verdict=_verdict,
    )


def _verdict(outcome: Outcome) -> str:
    if outcome.success:
        return "pass"
    return "warn" if outcome.severity == "warning" else "FAIL"


def markdown_summary(outcomes: list[Outcome], counts: dict[str, int], docs: str | None) -> str:
    """The validation in Markdown: counts, then one table row per expectation."""
    lines = ["# Data quality", ""]
    lines += [f"- {name.replace('_', ' ')}: {value:,}" for name, value in counts.items()]
    if docs:
        lines.append(f"- Data Docs: `{docs}`")
    lines += [
        "",
        "| suite | expectation | severity | result | unexpected | observed | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        result = _verdict(o)
        unexpected = "" if o.unexpected_count is None else f"{o.unexpected_count:,}"
        observed = (o.observed_value or "").replace("|", "\\|")[:80]
        lines.append(
            f"| {o.suite} | `{o.expectation}` | {o.severity} | {result} | {unexpected} "
            f"| {observed} | {o.reason} |"
        )
    return "\n".join(lines) + "\n"
