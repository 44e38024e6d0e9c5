"""The daily scoring flow: extract -> validate -> score -> write, for one run date."""

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.settings import bundled_config_path, load_config, settings
from scoring.config import ScoringConfig
from scoring.schema import OUTPUT_SCHEMA_VERSION
from tasks.extract import extract_events, find_event_files
from tasks.score import ScoreReport, score_customers
from tasks.validate import (
    QualityGateError,
    ValidationReport,
    discard_staging,
    published_docs_index,
    report_data_quality,
    validate_events,
    validate_outputs,
)
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
    data_docs: str | None = None
    output_expectations: list[dict[str, Any]] = field(default_factory=list)


def default_run_date() -> date:
    """Yesterday (UTC): a daily run scores the day that just ended."""
    return datetime.now(UTC).date() - timedelta(days=1)


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
        "data_docs": summary.data_docs,
        "expectations": summary.validation.expectations + summary.output_expectations,
        "unknown_event_types": summary.validation.unknown_event_types,
    }


@flow(name="daily-engagement-scoring", flow_run_name=run_name, log_prints=True)
def daily_scoring(
    run_date: date | None = None,
    events: str | None = None,
    config: ScoringConfig | None = None,
    output: str | None = None,
) -> RunSummary:
    """Score every customer for `run_date` (default: yesterday, UTC) from the events at
    `events` (a file, directory or glob) and publish the Parquet outputs under `output`.

    Unset parameters come from the environment (ENGAGE_EVENTS, ENGAGE_CONFIG, ENGAGE_OUTPUT);
    the configuration defaults to the bundled one.
    """
    logger = get_run_logger()
    run_date = run_date or default_run_date()
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

    try:
        started = time.perf_counter()
        validation = validate_events(raw_path, staging, run_date, config, output, flow_run.get_id())
        timings["validate"] = round(time.perf_counter() - started, 3)
        logger.info(
            "validated %d rows: %d valid, %d quarantined, %d duplicates removed",
            validation.rows_read,
            validation.rows_valid,
            validation.rows_quarantined,
            validation.duplicates_removed,
        )
        if validation.unknown_event_types:
            logger.warning(
                "event types not in the catalogue (kept): %s",
                ", ".join(f"{t} ({n})" for t, n in validation.unknown_event_types.items()),
            )

        started = time.perf_counter()
        scoring = score_customers(validation.valid_path, config, run_date, staging)
        timings["score"] = round(time.perf_counter() - started, 3)
        if scoring.unweighted_event_types:
            logger.info(
                "unweighted event types (count 0): %s",
                ", ".join(f"{t} ({n})" for t, n in scoring.unweighted_event_types.items()),
            )
        started = time.perf_counter()
        output_expectations = validate_outputs(staging, output, run_date, validation.expectations)
        timings["validate_outputs"] = round(time.perf_counter() - started, 3)
    except QualityGateError:
        discard_staging(staging)
        raise

    docs = published_docs_index(output, run_date)
    summary = RunSummary(
        run_date, output, files, validation, scoring, [], timings, docs, output_expectations
    )
    write_manifest(manifest_of(summary, config, flow_run.get_id()), staging, run_date)
    published = publish_outputs(staging, output, run_date)
    report_data_quality(
        validation.expectations + output_expectations,
        {
            "rows_read": validation.rows_read,
            "rows_valid": validation.rows_valid,
            "rows_quarantined": validation.rows_quarantined,
            "duplicates_removed": validation.duplicates_removed,
        },
        docs,
        run_date,
    )
    return RunSummary(
        run_date, output, files, validation, scoring, published, timings, docs, output_expectations
    )


if __name__ == "__main__":
    import sys

    from flows.cli import app

    sys.exit(app())
