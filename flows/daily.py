"""The daily scoring flow: extract -> validate -> score -> write, for one run date."""

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import quote

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.daily_modes import DailyRun, FileEvents, daily_mode, daily_run
from flows.locks import run_date_lock, wait_for_previous_date
from flows.preflight import refuse_future_run_date, refuse_run_date_out_of_range
from flows.run_dates import scheduled_run_date
from flows.settings import load_config, settings
from scoring.config import ScoringConfig
from scoring.schema import OUTPUT_SCHEMA_VERSION
from tasks.extract.sources import SourceConfig
from tasks.followups.track import (
    FollowupReport,
    emit_run_event,
    track_followups,
    with_baseline_delivery,
)
from tasks.publish.atomic import abandon, not_writable, output_write_problem
from tasks.publish.write import StagedEvents, publish_outputs, write_manifest
from tasks.quality.validate import (
    RawEvents,
    ValidationReport,
    escaped_counts,
    published_docs_index,
    report_data_quality,
    validate_outputs,
)
from tasks.report.artifacts import publish_run_artifacts
from tasks.report.run_report import write_run_report
from tasks.score.metrics import MetricsReport
from tasks.score.scores import ScoreReport


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


SUMMARIZED = "engage_summary"
"""A log record's attribute: the command line's summary repeats it (its console omits it)."""


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


def content_run_id(paths: list[str], config: ScoringConfig) -> str:
    """The run's id in its outputs: a digest of the events read (the bytes of the input files,
    in order) and the configuration, so the same inputs give the same bytes whatever the run
    stages; the manifest maps it to the Prefect flow run."""
    digest = hashlib.sha256()
    for path in paths:
        with Path(path).open("rb") as stream:  # streamed: the inputs may be large
            digest.update(hashlib.file_digest(stream, "sha256").digest())
    digest.update(config.config_hash().encode())
    return digest.hexdigest()[:16]


def _without_staging_paths(report: dict[str, Any]) -> dict[str, Any]:
    """A step report without its staging file paths: they differ per run (the `outputs` of the
    manifest list the published files), and the manifest hash must not."""
    return {key: value for key, value in report.items() if not key.endswith("_file")}


def manifest_of(summary: RunSummary, config: ScoringConfig, run_id: str | None) -> dict[str, Any]:
    """The run manifest: everything needed to know what produced the outputs."""
    inputs = [{"path": p, "bytes": Path(p).stat().st_size} for p in summary.input_files]
    return {
        "schema_version": OUTPUT_SCHEMA_VERSION,
        "package_version": version("engage"),
        "flow_run_id": run_id,
        "run_date": summary.run_date.isoformat(),
        "config": config.model_dump(mode="json"),
        "config_hash": config.config_hash(),
        "inputs": inputs,
        "counts": {
            **validation_counts(summary.validation),
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
    config: str | ScoringConfig | None = None,
    output: str | None = None,
    customers: str | None = None,
    source: SourceConfig | None = None,
    incremental: bool = False,
    buckets: int = 1,
    allow_future: bool = False,
    deliver_baseline: bool = False,
) -> RunSummary:
    """Score every customer for one run date and publish the Parquet outputs.

    One run per run date at a time: a second run of the same date waits for the first (a
    global concurrency limit per date). Unset parameters come from the environment of the
    process running the flow (ENGAGE_EVENTS or ENGAGE_SOURCE, ENGAGE_CONFIG, ENGAGE_OUTPUT,
    ENGAGE_CUSTOMERS).

    Args:
        run_date: The UTC day to score (YYYY-MM-DD); its window ends on it. Empty: the day
            before the run's scheduled time in the deployment's time zone (yesterday for a
            manual run). A date no time zone has reached yet is refused unless allow_future.
        events: Event files to read: a file, a directory or a glob (CSV, NDJSON or Parquet,
            optionally .gz). Empty: ENGAGE_EVENTS, or `source`.
        config: The scoring configuration: the path of its YAML file, or the configuration
            itself. Empty: ENGAGE_CONFIG, else the bundled scoring/default_config.yaml.
        output: Directory of the outputs (Parquet tables, manifest, reports). Empty:
            ENGAGE_OUTPUT, else `output`.
        customers: Optional customers table (CSV, NDJSON or Parquet) with customer_id and
            attributes such as plan, account_owner, name, arr, region: the metric panel's
            segments, plan-based follow-up rules, the owner, name and value of every flag.
            Empty: the source's `customers`, else ENGAGE_CUSTOMERS; without one, plan rules
            never fire and flags carry no owner.
        source: A configured source (files, S3, PostgreSQL, HTTP API) to read instead of
            `events`: only what is new since its watermark is read, into the event store under
            output/_state/. Empty: ENGAGE_SOURCE, else `events`.
        incremental: Read only new or changed event files; the scores and the metric panel
            come from the daily aggregates kept under output/_state/daily_aggregates/ (the
            same outputs as a full read).
        buckets: Score in this many tasks by customer hash on the flow's task runner (e.g. a
            Dask cluster); the outputs are the same bytes as with 1.
        allow_future: Score a run date no time zone has reached yet (it has no events:
            everyone would be published as inactive).
        deliver_baseline: A first run (no earlier history under `output`) delivers its flags
            up to the follow-up capacity instead of queueing them all.
    """
    run_date = run_date or default_run_date()
    refuse_run_date_out_of_range(run_date)
    refuse_future_run_date(run_date, allow_future, "set allow_future to score it anyway")
    output = output or str(settings().output)
    with run_date_lock(run_date), written_to(output):
        run = daily_run(run_date, events, scoring_config(config), output, customers, source)
        if deliver_baseline:
            run = replace(run, config=with_baseline_delivery(run.config))
        with abandoned_on_error(run.staging):
            return score_run_date(daily_mode(run, incremental, buckets))


def scoring_config(config: str | ScoringConfig | None) -> ScoringConfig | None:
    """The configuration a run was given: as it is, or read from the file it names."""
    return load_config(config) if isinstance(config, str) else config


@contextmanager
def written_to(output: str) -> Iterator[None]:
    """An error of writing the output (full, read-only, no permission) becomes
    OutputNotWritableError: one line naming the output and the operating system's reason."""
    try:
        yield
    except Exception as error:
        problem = output_write_problem(error, output)
        if problem is not None:
            raise not_writable(output, problem) from error
        raise


@contextmanager
def abandoned_on_error(staging: str) -> Iterator[None]:
    """A run that fails leaves no staging behind (unless its publish committed: then the next
    run finishes it)."""
    try:
        yield
    except BaseException:
        abandon(staging)
        raise


def validated(mode: FileEvents, raw: RawEvents) -> tuple[ValidationReport, str]:
    """Validate the raw events as the run's mode says (timed as `validate`): the report and
    the run's content id."""
    logger = get_run_logger()
    if mode.run.config.validation_rules.row_count is not None:
        # the volume band reads the earlier dates' manifests: a date in flight publishes first
        wait_for_previous_date(mode.run.run_date, "the volume check reads its row count")
    with mode.run.timed("validate"):
        run_id = content_run_id(mode.events_read(raw), mode.run.config)
        validation = mode.validate(raw, run_id)
    logger.info(validated_message(validation))
    if validation.unknown_event_types:
        logger.warning(
            "event types not in the catalogue (kept): %s",
            escaped_counts(validation.unknown_event_types),
            extra={SUMMARIZED: True},  # the command line's summary shows them: not twice
        )
    return validation, run_id


def scored(mode: FileEvents, valid: StagedEvents, validation: ValidationReport) -> ScoreReport:
    """Score the run's valid events as its mode says (timed as `score`)."""
    with mode.run.timed("score"):
        scoring = mode.score(valid, validation)
    if scoring.unweighted_event_types:
        get_run_logger().info(
            "unweighted event types (count 0): %s",
            escaped_counts(scoring.unweighted_event_types),
        )
    return scoring


def tracked_followups(run: DailyRun, scoring: ScoreReport) -> FollowupReport:
    """The follow-ups of the run's scores, once the previous run date is published."""
    wait_for_previous_date(run.run_date, "follow-ups need it")
    with run.timed("followups"):  # not the wait
        followups = track_followups(
            scoring.scores_file,
            scoring.contributions_file,
            run.config,
            run.run_date,
            run.staging,
            run.output,
            run.customers,
        )
    get_run_logger().info(
        "follow-ups: flags %s, statuses %s, delivered actions %s",
        followups.flags,
        followups.statuses,
        followups.actions,
    )
    return followups


def validation_counts(validation: ValidationReport) -> dict[str, int]:
    """The validation balance: rows read = valid + quarantined + duplicates removed."""
    return {
        "rows_read": validation.rows_read,
        "rows_valid": validation.rows_valid,
        "rows_quarantined": validation.rows_quarantined,
        "duplicates_removed": validation.duplicates_removed,
    }


def served_url(path: str, output: str) -> str | None:
    """The http URL of an output file when the output directory is served (ENGAGE_OUTPUT_URL,
    for ENGAGE_OUTPUT: `make server` serves it), else None."""
    environment = settings()
    if environment.output_url is None:
        return None
    root = environment.output.resolve()
    if Path(output).resolve() != root:
        return None
    relative = Path(path).resolve().relative_to(root).as_posix()
    return f"{environment.output_url.rstrip('/')}/{quote(relative)}"


def webhook_url_kept_in(run: DailyRun) -> dict[str, str | None]:
    """With a webhook_url in the configuration (a secret: the manifest's copy of the
    configuration holds it masked), `webhook_url_file`: the absolute path of the configuration
    file it is in, where the delivery flow reads it (None: the configuration was given as an
    object)."""
    if run.config.followup_settings.delivery.webhook_url is None:
        return {}
    return {"webhook_url_file": run.config.source_file}


def published(mode: FileEvents, summary: RunSummary, run_id: str) -> RunSummary:
    """Write the run report and manifest, publish the staged outputs, then announce the run
    (artifacts, data-quality events, the run event)."""
    run = mode.run
    validation, scoring, followups = summary.validation, summary.scoring, summary.followups
    assert followups is not None  # every daily run tracks its follow-ups
    manifest = manifest_of(summary, run.config, flow_run.get_id())
    manifest.update(webhook_url_kept_in(run))
    manifest["run_id"] = run_id
    manifest["followups"] = asdict(followups)
    manifest["extraction"] = summary.extraction
    report = write_run_report(
        run.staging, run.output, run.run_date, run.config.tier_boundaries, manifest
    )
    write_manifest(manifest, run.staging, run.run_date)
    files = publish_outputs(run.staging, run.output, run.run_date)
    publish_run_artifacts(
        run.run_date, run.output, validation, scoring, files, report, served_url(report, run.output)
    )
    mode.published()
    report_data_quality(
        validation.expectations + summary.output_expectations,
        validation_counts(validation),
        summary.data_docs,
        run.run_date,
    )
    emit_run_event(
        run.run_date,
        run.output,
        {
            "customers": scoring.customers,
            "tiers": scoring.tiers,
            "flags": followups.flags,
            "actions": followups.actions,
            "statuses": followups.statuses,
        },
    )
    return replace(summary, published=files, run_report=report)


def score_run_date(mode: FileEvents) -> RunSummary:
    """The daily run's steps for its run date (called under the run date's lock), reading,
    scoring and measuring as the run's mode (daily_mode) says."""
    run, run_date = mode.run, mode.run.run_date
    with run.timed("extract"):
        raw = mode.extract()
    validation, run_id = validated(mode, raw)
    del raw  # the raw events (in memory when read from files) are freed before scoring
    valid, extraction = mode.stored(validation)
    scoring = scored(mode, valid, validation)
    metrics = mode.metrics(valid, scoring)
    del valid  # the valid events (in memory on event files) are freed before the follow-ups
    followups = tracked_followups(run, scoring)
    with run.timed("validate_outputs"):
        checks = validate_outputs(run.staging, run.output, run_date, validation.expectations)
    summary = RunSummary(
        run_date,
        run.output,
        mode.files,
        validation,
        scoring,
        [],
        run.timings,
        followups=followups,
        extraction=extraction,
        metrics=metrics,
        data_docs=published_docs_index(run.output, run_date),
        output_expectations=checks,
    )
    return published(mode, summary, run_id)


if __name__ == "__main__":
    import sys

    from flows.cli import app

    sys.exit(app())
