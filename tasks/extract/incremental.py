"""Incremental extraction from a configured source: plan the window, read it, store the valid
events, move the watermark when the run publishes (layout and rules:
tasks/extract/sources/state.py)."""

from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.extract.sources import SourceConfig, source_for
from tasks.extract.sources.base import ExtractWindow, SourceUnavailable
from tasks.extract.sources.state import (
    PART_FILE,
    StoreReport,
    add_to_store,
    affected_run_dates,
    extraction_window,
    read_watermark,
    store_files,
    write_watermark,
)
from tasks.publish.runs import published_run_dates
from tasks.publish.write import write_staged
from tasks.secrets import scrubbed_errors


@dataclass(frozen=True)
class ExtractionPlan:
    """What a run of a source reads and what the previous published run had read."""

    source: str
    kind: str
    previous_watermark: datetime | None
    window: ExtractWindow


@dataclass(frozen=True)
class SourceExtraction:
    """A source's extraction for one run (small: passed between tasks, put in the manifest)."""

    plan: ExtractionPlan
    raw_path: str
    rows_read: int
    origin: str


@task(name="plan-extraction", cache_policy=NO_CACHE, persist_result=False)
def plan_extraction(source: SourceConfig, output: str, run_date: date) -> ExtractionPlan:
    """The window to read: since the watermark minus the lookback, to the run date's end."""
    previous = read_watermark(output, source.name) if source.incremental else None
    window = extraction_window(previous, run_date, source.lookback_days, source.incremental)
    return ExtractionPlan(source.name, source.kind, previous, window)


def _source_unavailable(task: Any, task_run: Any, state: Any) -> bool:
    """Retry an extraction only when the source may come back (not for a wrong table/URL)."""
    try:
        state.result()
    except SourceUnavailable:
        return True
    except Exception:
        return False
    return False


@task(
    name="extract-from-source",
    retries=2,
    retry_delay_seconds=[2, 30],
    retry_condition_fn=_source_unavailable,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def extract_from_source(
    source: SourceConfig, plan: ExtractionPlan, staging: str
) -> SourceExtraction:
    """Read the planned window into one raw event frame, staged as Parquet.

    A retry reads the whole window again and overwrites the staged file: nothing doubles.
    """
    reader = source_for(source)
    with scrubbed_errors():  # a driver's or server's error may quote the source's secrets
        try:
            raw = reader.read(plan.window).collect()
        finally:
            reader.close()
    target = Path(staging) / "raw_events.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_staged(raw, target)
    return SourceExtraction(plan, str(target), raw.height, f"{source.kind}:{source.name}")


@task(name="store-events", cache_policy=NO_CACHE, persist_result=False)
def store_events(valid_path: str, output: str, plan: ExtractionPlan) -> StoreReport:
    """Add the run's valid events to the event store (deduplicated by event_id)."""
    return add_to_store(pl.read_parquet(valid_path, glob=False), output, plan.previous_watermark)


def scoring_input(output: str, valid_path: str) -> list[str]:
    """What scoring reads: the event store's files, listed (never a glob: the output's path may
    hold glob characters); the run's valid file when the store is still empty."""
    return [str(path) for path in store_files(output)] or [valid_path]


@task(name="advance-watermark", cache_policy=NO_CACHE, persist_result=False)
def advance_watermark(plan: ExtractionPlan, output: str, run_date: date) -> str:
    """After publishing: the source has been read up to the end of the window (never moves
    back when an older date is rerun)."""
    until = max(plan.window.end, plan.previous_watermark or plan.window.end)
    return str(write_watermark(output, plan.source, until, run_date))


def extraction_manifest(
    extraction: SourceExtraction, stored: StoreReport, output: str, run_date: date
) -> dict[str, Any]:
    """The manifest's `extraction` section: window, watermark, store and late events."""
    plan = extraction.plan
    return {
        "source": plan.source,
        "kind": plan.kind,
        "window_start": plan.window.start.isoformat() if plan.window.start else None,
        "window_end": plan.window.end.isoformat(),
        "previous_watermark": (
            plan.previous_watermark.isoformat() if plan.previous_watermark else None
        ),
        "rows_read": extraction.rows_read,
        "store": {k: v for k, v in asdict(stored).items() if k != "files_changed"},
        "late_events": {
            "count": stored.late_events,
            "event_dates": stored.late_event_dates,
            "affected_run_dates": affected_run_dates(
                stored.late_event_dates, published_run_dates(output, "scores", PART_FILE), run_date
            ),
        },
    }
