"""The backfill flow: score a range of run dates, oldest first, a few at a time, skipping the
dates whose outputs are already complete (unless forced), with a progress artifact."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from pydantic import Field

from flows.daily import daily_scoring
from flows.locks import lock_is_held
from flows.preflight import refuse_long_backfill
from flows.settings import bundled_config_path, load_config, settings
from scoring.config import ScoringConfig
from tasks.messages import one_line
from tasks.publish.runs import is_complete

PROGRESS_KEY = "engage-backfill-progress"
REPORT_KEY = "engage-backfill"


@dataclass(frozen=True)
class BackfillSummary:
    """Which run dates a backfill scored, skipped (already complete) and failed (with why)."""

    start: date
    end: date
    scored: list[date] = field(default_factory=list)
    skipped: list[date] = field(default_factory=list)
    failed: dict[date, str] = field(default_factory=dict)

    def record(self, run_date: date, error: Exception | None) -> None:
        """Record how the run of a date ended: scored, or failed with `error`."""
        if error is None:
            self.scored.append(run_date)
        else:
            self.failed[run_date] = one_line(f"{type(error).__name__}: {error}")

    def progress(self, dates: int) -> float:
        """The % of the backfill's `dates` run dates done (skipped, scored or failed)."""
        return 100.0 * (len(self.skipped) + len(self.scored) + len(self.failed)) / dates


class BackfillFailed(RuntimeError):
    """Some run dates of a backfill failed; the others were scored. Rerun to resume."""


def run_dates_between(start: date, end: date) -> list[date]:
    """Every day from `start` to `end`, both included, oldest first (at most MAX_BACKFILL_DAYS:
    flows.preflight.refuse_long_backfill)."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}: give start <= end")
    refuse_long_backfill(start, end)
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def backfill_run_name() -> str:
    """Flow run name with the range, e.g. `backfill-2026-03-01-to-2026-03-14`."""
    parameters = flow_run.parameters
    return f"backfill-{parameters.get('start')}-to-{parameters.get('end')}"


@task(
    name="score-run-date",
    task_run_name="score-run-date-{run_date}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def score_one_date(
    run_date: date,
    events: str | None,
    config: ScoringConfig,
    output: str,
    customers: str | None,
) -> None:
    """Run the daily flow (a child flow run, holding the date's lock) for one run date."""
    daily_scoring(
        run_date=run_date, events=events, config=config, output=output, customers=customers
    )


def wait_until_started(run_date: date, future: PrefectFuture[None], timeout_s: float = 600) -> None:
    """Wait until the run of `run_date` holds its lock (or is done): the next date's follow-up
    step then waits for it to publish (`wait_for_previous_date`), so consecutive dates scored at
    once still see each other in order."""
    deadline = time.monotonic() + timeout_s
    while not lock_is_held(run_date):
        future.wait(timeout=0.2)
        if future.state.is_final():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the run of {run_date} did not start within {timeout_s:.0f} s")


def score_in_order(
    dates: list[date],
    submit: Callable[[date], PrefectFuture[None]],
    max_concurrent: int,
    finished: Callable[[date, Exception | None], None],
) -> None:
    """Submit the runs of `dates` oldest first, at most `max_concurrent` at a time, each once
    the previous one holds its date's lock (wait_until_started); `finished` is told how each
    ended (its error, or None), oldest first."""
    in_flight: list[tuple[date, PrefectFuture[None]]] = []

    def finish_oldest() -> None:
        run_date, future = in_flight.pop(0)
        try:
            future.result()
        except Exception as error:  # one bad date must not stop the others
            finished(run_date, error)
        else:
            finished(run_date, None)

    for run_date in dates:
        if len(in_flight) >= max_concurrent:
            finish_oldest()
        if in_flight:
            wait_until_started(*in_flight[-1])
        in_flight.append((run_date, submit(run_date)))
    while in_flight:
        finish_oldest()


def backfill_markdown(summary: BackfillSummary) -> str:
    """A table of every run date of the backfill and what happened to it."""
    status = {d: "scored" for d in summary.scored} | {
        d: "skipped (complete)" for d in summary.skipped
    }
    status |= {d: f"failed: {error}" for d, error in summary.failed.items()}
    lines = [
        f"# engage backfill {summary.start} to {summary.end}",
        "",
        f"{len(summary.scored)} scored, {len(summary.skipped)} skipped (already complete), "
        f"{len(summary.failed)} failed",
        "",
        "| run date | status |",
        "|---|---|",
    ]
    lines += [f"| {d} | {status[d].replace('|', '/')} |" for d in sorted(status)]
    return "\n".join(lines) + "\n"


@flow(name="engagement-backfill", flow_run_name=backfill_run_name, log_prints=True)
def backfill_scoring(
    start: date,
    end: date,
    force: bool = False,
    max_concurrent: Annotated[int, Field(ge=1, le=8)] = 2,
    events: str | None = None,
    config: ScoringConfig | None = None,
    output: str | None = None,
    customers: str | None = None,
) -> BackfillSummary:
    """Score every run date from `start` to `end` (both included), oldest first, at most
    `max_concurrent` at a time. A date whose outputs are complete (manifest and every table
    published with the same configuration) is skipped unless `force`: rerunning an interrupted
    backfill resumes it. Failed dates are listed and fail the run after the others are done.
    `events`, `config`, `output` and `customers` are those of the daily flow.
    """
    logger = get_run_logger()
    dates = run_dates_between(start, end)
    environment = settings()
    config = config or load_config(environment.config or bundled_config_path())
    output = output or str(environment.output)
    config_hash = config.config_hash()
    skipped = [] if force else [d for d in dates if is_complete(output, d, config_hash)]
    todo = [d for d in dates if d not in skipped]
    logger.info(
        "%d run date(s): %d to score, %d already complete", len(dates), len(todo), len(skipped)
    )

    summary = BackfillSummary(start, end, skipped=skipped)
    progress_id = create_progress_artifact(
        progress=summary.progress(len(dates)),
        key=PROGRESS_KEY,
        description=f"backfill {start} to {end}",
    )

    def finished(run_date: date, error: Exception | None) -> None:
        if error is not None:
            logger.error("run date %s failed: %s", run_date, one_line(str(error)))
        summary.record(run_date, error)
        update_progress_artifact(progress_id, summary.progress(len(dates)))

    def submit(run_date: date) -> PrefectFuture[None]:
        return score_one_date.submit(run_date, events, config, output, customers)

    score_in_order(todo, submit, max_concurrent, finished)

    create_markdown_artifact(
        backfill_markdown(summary), key=REPORT_KEY, description=f"backfill {start} to {end}"
    )
    if summary.failed:
        failed = ", ".join(str(d) for d in sorted(summary.failed))
        first = min(summary.failed)  # the others' reasons are in the log and the report
        raise BackfillFailed(
            f"run date(s) {failed} failed (the first, {first}: {summary.failed[first]}); "
            "fix that and rerun the backfill to resume"
        )
    return summary


if __name__ == "__main__":
    import sys

    from flows.cli import app

    sys.exit(app())
