"""The daily scoring flow: extract -> validate -> score -> write, for one run date."""

import time
from dataclasses import asdict, dataclass, field
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.locks import run_date_lock
from flows.run_dates import scheduled_run_date
from flows.settings import bundled_config_path, load_config, settings
from scoring.config import ScoringConfig
from scoring.schema import OUTPUT_SCHEMA_VERSION
from tasks.artifacts import publish_run_artifacts
from tasks.extract import extract_events, find_event_files
from tasks.run_report import write_run_report
from tasks.score import ScoreReport, score_customers
from tasks.validate import ValidationReport, validate_events
from tasks.write import new_staging_dir, publish_outputs, write_manifest


@dataclass(frozen=True)
class RunSummary:
    """What a daily run did: counts, tiers and where its outputs are."""

    run_date: date
    output: str
    input_files: list[str]
    validation: ValidationReport
    scoring: ScoreReport
    published: list[str]
    timings_s: dict[str, float] = field(default_factory=dict)


def default_run_date() -> date:
    """The day before the run's scheduled time in the deployment's time zone (UTC without a
    deployment): a daily run scores the day that just ended."""
    return scheduled_run_date()


def run_name() -> str:
    """Flow run name with the run date, e.g. `score-2026-03-31`."""
    run_date = flow_run.parameters.get("run_date") or default_run_date()
    return f"score-{run_date}"


def manifest_of(summary: RunSummary, config: ScoringConfig, run_id: str | None) -> dict[str, Any]:
    """The run manifest: everything needed to know what produced the outputs."""
    inputs = [{"path": p, "bytes": Path(p).stat().st_size} for p in summary.input_files]
    validation = asdict(summary.validation)
    validation.pop("valid_path")
    return {
        "schema_version": OUTPUT_SCHEMA_VERSION,
        "package_version": version("engage"),
        "flow_run_id": run_id,
        "run_date": summary.run_date.isoformat(),
        "config": config.model_dump(mode="json"),
        "config_hash": config.config_hash(),
        "inputs": inputs,
        "counts": {
            "rows_read": summary.validation.rows_read,
            "rows_valid": summary.validation.rows_valid,
            "rows_quarantined": summary.validation.rows_quarantined,
            "duplicates_removed": summary.validation.duplicates_removed,
            "customers_scored": summary.scoring.customers,
            "events_in_window": summary.scoring.events_in_window,
        },
        "quarantine_reasons": summary.validation.quarantine_reasons,
        "tiers": summary.scoring.tiers,
        "unweighted_event_types": summary.scoring.unweighted_event_types,
        "timings_s": summary.timings_s,
    }


@flow(name="daily-engagement-scoring", flow_run_name=run_name, log_prints=True)
def daily_scoring(
    run_date: date | None = None,
    events: str | None = None,
    config: ScoringConfig | None = None,
    output: str | None = None,
) -> RunSummary:
    """Score every customer for `run_date` (default: the day before the scheduled time in the
    deployment's time zone) from the events at `events` (a file, directory or glob) and
    publish the Parquet outputs under `output`. One run per run date at a time.

    Unset parameters come from the environment (ENGAGE_EVENTS, ENGAGE_CONFIG, ENGAGE_OUTPUT);
    the configuration defaults to the bundled one.
    """
    run_date = run_date or default_run_date()
    with run_date_lock(run_date):
        return score_run_date(run_date, events, config, output)


def score_run_date(
    run_date: date,
    events: str | None,
    config: ScoringConfig | None,
    output: str | None,
) -> RunSummary:
    """The daily run's steps for one run date (called under the run date's lock)."""
    logger = get_run_logger()
    environment = settings()
    events = events or environment.events
    if not events:
        raise ValueError("no events to score: pass `events` or set ENGAGE_EVENTS")
    config = config or load_config(environment.config or bundled_config_path())
    output = output or str(environment.output)
    staging = str(new_staging_dir(output, run_date))
    timings: dict[str, float] = {}

    started = time.perf_counter()
    files = find_event_files(events)
    raw_path = extract_events(files, staging)
    timings["extract"] = round(time.perf_counter() - started, 3)
    logger.info("extracted %d file(s) for %s", len(files), run_date)

    started = time.perf_counter()
    validation = validate_events(raw_path, staging, run_date)
    timings["validate"] = round(time.perf_counter() - started, 3)
    logger.info(
        "validated %d rows: %d valid, %d quarantined, %d duplicates removed",
        validation.rows_read,
        validation.rows_valid,
        validation.rows_quarantined,
        validation.duplicates_removed,
    )

    started = time.perf_counter()
    scoring = score_customers(validation.valid_path, config, run_date, staging)
    timings["score"] = round(time.perf_counter() - started, 3)
    if scoring.unweighted_event_types:
        logger.info(
            "unweighted event types (count 0): %s",
            ", ".join(f"{t} ({n})" for t, n in scoring.unweighted_event_types.items()),
        )

    summary = RunSummary(run_date, output, files, validation, scoring, [], timings)
    write_manifest(manifest_of(summary, config, flow_run.get_id()), staging, run_date)
    report = write_run_report(staging, output, run_date, config.tier_boundaries)
    published = publish_outputs(staging, output, run_date)
    publish_run_artifacts(run_date, output, validation, scoring, published, report)
    return RunSummary(run_date, output, files, validation, scoring, published, timings)


if __name__ == "__main__":
    import sys

    from flows.cli import app

    sys.exit(app())
