"""The daily scoring flow: extract -> validate -> score -> write, for one run date."""

import hashlib
import os
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.locks import run_date_lock, wait_for_previous_date
from flows.run_dates import scheduled_run_date
from flows.settings import bundled_config_path, load_config, load_source, settings
from scoring.config import ScoringConfig
from scoring.schema import OUTPUT_SCHEMA_VERSION
from tasks.extract.files import extract_events, find_event_files
from tasks.extract.incremental import (
    advance_watermark,
    extract_from_source,
    extraction_manifest,
    plan_extraction,
    scoring_input,
    store_events,
)
from tasks.extract.sources import SourceConfig
from tasks.followups.track import FollowupReport, emit_run_event, track_followups
from tasks.publish.write import new_staging_dir, publish_outputs, write_manifest
from tasks.quality.validate import (
    QualityGateError,
    ValidationReport,
    discard_staging,
    escaped_counts,
    published_docs_index,
    report_data_quality,
    validate_events,
    validate_outputs,
)
from tasks.report.artifacts import publish_run_artifacts
from tasks.report.run_report import write_run_report
from tasks.score.buckets import score_in_buckets
from tasks.score.daily_aggregates import plan_aggregates, refresh_daily_aggregates
from tasks.score.metrics import MetricsReport, compute_metrics
from tasks.score.scores import ScoreReport, score_customers, score_from_aggregates


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
    followups: FollowupReport | None = None
    extraction: dict[str, Any] | None = None
    metrics: MetricsReport | None = None
    data_docs: str | None = None
    output_expectations: list[dict[str, Any]] = field(default_factory=list)
    run_report: str | None = None


def default_run_date() -> date:
    """The day before the run's scheduled time in the deployment's time zone (UTC without a
    deployment): a daily run scores the day that just ended."""
    return scheduled_run_date()


def validated_message(validation: ValidationReport) -> str:
    """One log line with the validation balance: read = valid + quarantined + duplicates."""
    return (
        f"validated {validation.rows_read:,} rows: {validation.rows_valid:,} valid, "
        f"{validation.rows_quarantined:,} quarantined, "
        f"{validation.duplicates_removed:,} duplicates removed"
    )


def run_name() -> str:
    """Flow run name with the run date, e.g. `score-2026-03-31`."""
    run_date = flow_run.parameters.get("run_date") or default_run_date()
    return f"score-{run_date}"


def content_run_id(raw_path: str, config: ScoringConfig) -> str:
    """The run's id in its outputs: a digest of the events read and the configuration, so
    the same inputs give the same bytes; the manifest maps it to the Prefect flow run."""
    digest = hashlib.sha256(Path(raw_path).read_bytes())
    digest.update(config.config_hash().encode())
    return digest.hexdigest()[:16]


def _without_staging_paths(report: dict[str, Any]) -> dict[str, Any]:
    """A step report without its staging file paths: they differ per run (the `outputs` of the
    manifest list the published files), and the manifest hash must not."""
    return {key: value for key, value in report.items() if not key.endswith("_file")}


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
        "metrics": _without_staging_paths(asdict(summary.metrics)) if summary.metrics else None,
        # relative to the output, like the published files: the hash must not depend on where
        "data_docs": os.path.relpath(summary.data_docs, summary.output)
        if summary.data_docs
        else None,
        "expectations": summary.validation.expectations + summary.output_expectations,
        "unknown_event_types": summary.validation.unknown_event_types,
    }


@flow(name="daily-engagement-scoring", flow_run_name=run_name, log_prints=True)
def daily_scoring(
    run_date: date | None = None,
    events: str | None = None,
    config: ScoringConfig | None = None,
    output: str | None = None,
    customers: str | None = None,
    source: SourceConfig | None = None,
    incremental: bool = False,
    buckets: int = 1,
) -> RunSummary:
    """Score every customer for `run_date` (default: the day before the scheduled time in the
    deployment's time zone) from the events at `events` (a file, directory or glob) and
    publish the Parquet outputs under `output`. One run per run date at a time: a second run
    of the same date waits for the first (a global concurrency limit per date).

    `customers` is an optional customers table (CSV/NDJSON/Parquet with customer_id and
    attributes such as plan, region): segments of the metric panel, plan-based follow-up rules.

    With `source` (a configured source: files, S3, PostgreSQL, HTTP API) instead of `events`,
    the run reads only what is new since the source's watermark (plus the late-data lookback),
    adds the valid events to the event store under `output/_state/` and scores from the store.

    With `incremental`, only new or changed input files are read: their daily aggregates
    replace the old ones in `output/_state/daily_aggregates/` and the window is scored from
    the aggregates (same outputs as a full read; see tasks/score/daily_aggregates.py).

    With `buckets` > 1, scoring runs as one task per customer hash bucket on the flow's task
    runner (e.g. `daily_scoring.with_options(task_runner=DaskTaskRunner(address=...))`); the
    outputs are the same bytes as with one bucket.

    Unset parameters come from the environment (ENGAGE_EVENTS or ENGAGE_SOURCE, ENGAGE_CONFIG,
    ENGAGE_OUTPUT); the configuration defaults to the bundled one.
    """
    run_date = run_date or default_run_date()
    with run_date_lock(run_date):
        return score_run_date(
            run_date, events, config, output, customers, source, incremental, buckets
        )


def score_run_date(
    run_date: date,
    events: str | None,
    config: ScoringConfig | None,
    output: str | None,
    customers: str | None,
    source: SourceConfig | None,
    incremental: bool,
    buckets: int,
) -> RunSummary:
    """The daily run's steps for one run date (called under the run date's lock)."""
    logger = get_run_logger()
    environment = settings()
    events = events or environment.events
    if not events and source is None and environment.source:
        config_file = environment.config or bundled_config_path()
        source = load_source(config_file, environment.source)
    if not events and source is None:
        raise ValueError("no events to score: pass `events` or `source`, or set ENGAGE_EVENTS")
    config = config or load_config(environment.config or bundled_config_path())
    output = output or str(environment.output)
    staging = str(new_staging_dir(output, run_date))
    timings: dict[str, float] = {}

    started = time.perf_counter()
    if source is not None:
        plan = plan_extraction(source, output, run_date)
        extracted = extract_from_source(source, plan, staging)
        files, raw_path = [], extracted.raw_path  # what was read is in the manifest's extraction
        logger.info(
            "read %d rows of %s %s", extracted.rows_read, extracted.origin, plan.window.describe()
        )
    else:
        files = find_event_files(events)
        if incremental:
            aggregates_plan = plan_aggregates(files, output)
            files = aggregates_plan.read
        raw_path = extract_events(files, staging, config.validation_rules.max_uncompressed_bytes)
        logger.info("extracted %d file(s) for %s", len(files), run_date)
    timings["extract"] = round(time.perf_counter() - started, 3)

    try:
        started = time.perf_counter()
        run_id = content_run_id(raw_path, config)
        validation = validate_events(raw_path, staging, run_date, config, output, run_id)
        timings["validate"] = round(time.perf_counter() - started, 3)
        logger.info(validated_message(validation))
        if validation.unknown_event_types:
            logger.warning(
                "event types not in the catalogue (kept): %s",
                escaped_counts(validation.unknown_event_types),
            )

        extraction, scored_path = None, validation.valid_path
        if source is not None:
            stored = store_events(validation.valid_path, output, plan)
            extraction = extraction_manifest(extracted, stored, output, run_date)
            scored_path = scoring_input(output, validation.valid_path)

        started = time.perf_counter()
        if incremental and source is None:
            refreshed = refresh_daily_aggregates(validation.valid_path, aggregates_plan, output)
            logger.info("daily aggregates: %s", refreshed)
            scoring = score_from_aggregates(output, config, run_date, staging)
        elif buckets > 1:
            scoring = score_in_buckets(scored_path, config, run_date, staging, buckets)
        else:
            # the panel runs on this path: keep the scoring pass's totals for it
            scoring = score_customers(scored_path, config, run_date, staging, keep_totals=True)
        timings["score"] = round(time.perf_counter() - started, 3)
        if scoring.unweighted_event_types:
            logger.info(
                "unweighted event types (count 0): %s",
                escaped_counts(scoring.unweighted_event_types),
            )

        metrics = None
        if incremental and source is None:
            # the daily aggregates hold counts, not the window's events the panel needs
            logger.warning(
                "incremental run: the metric panel is not computed (run without --incremental)"
            )
        else:
            started = time.perf_counter()
            metrics = compute_metrics(
                scored_path,
                config,
                run_date,
                staging,
                customers,
                scoring.totals_file,
            )
            timings["metrics"] = round(time.perf_counter() - started, 3)

        wait_for_previous_date(run_date)
        followups = track_followups(
            scoring.scores_file,
            scoring.contributions_file,
            config,
            run_date,
            staging,
            output,
            customers,
        )
        logger.info("follow-ups: flags %s, actions %s", followups.flags, followups.actions)

        started = time.perf_counter()
        output_expectations = validate_outputs(staging, output, run_date, validation.expectations)
        timings["validate_outputs"] = round(time.perf_counter() - started, 3)
    except QualityGateError:
        discard_staging(staging)
        raise

    docs = published_docs_index(output, run_date)
    summary = RunSummary(
        run_date,
        output,
        files,
        validation,
        scoring,
        [],
        timings,
        followups=followups,
        extraction=extraction,
        metrics=metrics,
        data_docs=docs,
        output_expectations=output_expectations,
    )
    manifest = manifest_of(summary, config, flow_run.get_id())
    manifest["run_id"] = run_id
    manifest["followups"] = asdict(followups)
    manifest["extraction"] = extraction
    report = write_run_report(staging, output, run_date, config.tier_boundaries, manifest)
    write_manifest(manifest, staging, run_date)
    published = publish_outputs(staging, output, run_date)
    publish_run_artifacts(run_date, output, validation, scoring, published, report)
    if source is not None:
        advance_watermark(plan, output, run_date)
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
    emit_run_event(
        run_date,
        output,
        {
            "customers": scoring.customers,
            "tiers": scoring.tiers,
            "flags": followups.flags,
            "actions": followups.actions,
        },
    )
    return replace(summary, published=published, run_report=report)


if __name__ == "__main__":
    import sys

    from flows.cli import app

    sys.exit(app())
