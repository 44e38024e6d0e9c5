"""A daily run's settings and its mode, chosen once: how the run reads, stores and scores its
events (event files, incremental event files, or a configured source)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from prefect import get_run_logger

from flows.settings import bundled_config_path, load_config, load_source, settings
from scoring.config import ScoringConfig
from tasks.extract.buckets import BucketedRaw, extract_to_buckets
from tasks.extract.customers import check_customers
from tasks.extract.events import extract_events, find_event_files
from tasks.extract.incremental import (
    SourceExtraction,
    advance_watermark,
    extract_from_source,
    extraction_manifest,
    plan_extraction,
    scoring_input,
    store_events,
)
from tasks.extract.sources import SourceConfig
from tasks.publish.write import StagedEvents, new_staging_dir
from tasks.quality.buckets import gate_buckets
from tasks.quality.validate import (
    RawEvents,
    ValidationReport,
    validate_events,
    validate_events_in_memory,
)
from tasks.score.buckets import BucketPart, merge_panels, merge_scores, process_buckets
from tasks.score.daily_aggregates import (
    AggregatePlan,
    plan_aggregates,
    refresh_daily_aggregates,
)
from tasks.score.metrics import MetricsReport, compute_metrics, compute_metrics_from_aggregates
from tasks.score.scores import ScoreReport, score_customers, score_from_aggregates


@dataclass(frozen=True)
class DailyRun:
    """One run date's settings, the parameters completed from the environment, and the
    seconds each step took (timings_s of the manifest)."""

    run_date: date
    events: str | None
    source: SourceConfig | None
    config: ScoringConfig
    output: str
    customers: str | None
    staging: str
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Record how long the block took under `step` (seconds, to the ms) when it succeeds."""
        started = time.perf_counter()
        yield
        self.timings[step] = round(time.perf_counter() - started, 3)


def daily_run(
    run_date: date,
    events: str | None,
    config: ScoringConfig | None,
    output: str | None,
    customers: str | None,
    source: SourceConfig | None,
) -> DailyRun:
    """The run's settings: unset parameters from the environment (ENGAGE_EVENTS or
    ENGAGE_SOURCE, ENGAGE_CONFIG, ENGAGE_OUTPUT; customers: the source's, else
    ENGAGE_CUSTOMERS), and a new staging directory."""
    environment = settings()
    events = events or environment.events
    config_file = environment.config or bundled_config_path()
    if not events and source is None and environment.source:
        source = load_source(config_file, environment.source)
    if not events and source is None:
        raise ValueError("no events to score: pass `events` or `source`, or set ENGAGE_EVENTS")
    config = config or load_config(config_file)
    customers = customers or (source.customers if source else None) or environment.customers
    # a table the rules cannot use stops the run before anything is read
    for note in check_customers(customers, config.followups):
        get_run_logger().warning(note)
    output = output or str(environment.output)
    staging = str(new_staging_dir(output, run_date))
    return DailyRun(run_date, events, source, config, output, customers, staging)


class FileEvents:
    """The mode of a run on event files: every file read, the valid events scored in one pass
    (or in `buckets` by customer hash) and the metric panel computed. The other modes replace
    some of these steps."""

    valid_in_memory = True
    """Whether validation hands the valid events over in memory (else it stages them)."""

    def __init__(self, run: DailyRun, buckets: int) -> None:
        self.run = run
        self.buckets = buckets
        self.files: list[str] = []
        self.valid: pl.DataFrame | None = None

    def files_to_read(self) -> list[str]:
        """The input files of the run."""
        return find_event_files(self.run.events)

    def extract(self) -> RawEvents:
        """The run's raw events: its input files read (in memory)."""
        self.files = self.files_to_read()
        raw = extract_events(self.files, self.run.config.validation_rules.max_uncompressed_bytes)
        get_run_logger().info("extracted %d file(s) for %s", len(self.files), self.run.run_date)
        return raw

    def events_read(self, raw: RawEvents) -> list[str]:
        """What the run read, for its content id: the input files."""
        return self.files

    def validate(self, raw: RawEvents, run_id: str) -> ValidationReport:
        """The data-quality gate on the raw events; the valid ones kept in memory for
        `stored` (or staged, valid_in_memory False)."""
        run = self.run
        arguments = (raw, run.staging, run.run_date, run.config, run.output, run_id)
        if not self.valid_in_memory:
            return validate_events(*arguments)
        validation, self.valid = validate_events_in_memory(*arguments)
        return validation

    def stored(self, validation: ValidationReport) -> tuple[StagedEvents, dict[str, Any] | None]:
        """The valid events to score (the caller's is then their only reference), and what
        the extraction did (None: files)."""
        valid, self.valid = self.valid, None
        staged = valid if valid is not None else validation.valid_path
        assert staged is not None  # validated in memory, or staged
        return staged, None

    def score(self, scored: StagedEvents, validation: ValidationReport) -> ScoreReport:
        """Score the valid events (`stored`) and stage the scores."""
        run = self.run
        # the panel runs on these events: keep the scoring pass's totals for it
        return score_customers(scored, run.config, run.run_date, run.staging, keep_totals=True)

    def metrics(self, scored: StagedEvents, scoring: ScoreReport) -> MetricsReport | None:
        """Compute and stage the metric panel (timed as `metrics`)."""
        run = self.run
        with run.timed("metrics"):
            return compute_metrics(
                scored,
                run.config,
                run.run_date,
                run.staging,
                run.customers,
                scoring.totals_file,
            )

    def published(self) -> None:
        """What to record once the outputs are published: nothing for files."""


class BucketedFileEvents(FileEvents):
    """`buckets` > 1 on event files: the raw events staged once by customer bucket, one task
    per bucket for every per-customer step (row checks, scores and the panel's totals, the
    panel's counts: tasks/score/buckets.py), then merges for what spans customers (the
    quality gate, the outputs in customer order, percentiles, segments). `validate` includes
    the bucket tasks (timed apart as `buckets`)."""

    raw: BucketedRaw
    parts: list[BucketPart]

    def __init__(self, run: DailyRun, buckets: int) -> None:
        super().__init__(run, buckets)
        self.now = datetime.now(UTC)  # one clock for every bucket's row checks

    def extract(self) -> str:
        self.files = self.files_to_read()
        self.raw = extract_to_buckets(
            self.files,
            self.run.staging,
            self.buckets,
            self.run.config.validation_rules.max_uncompressed_bytes,
        )
        get_run_logger().info(
            "extracted %d file(s) for %s into %d buckets", len(self.files), self.run.run_date,
            self.buckets,
        )  # fmt: skip
        return str(Path(self.raw.partitions[0]).parent)

    def validate(self, raw: RawEvents, run_id: str) -> ValidationReport:
        run = self.run
        with run.timed("buckets"):
            self.parts = process_buckets(
                self.raw, run.config, run.run_date, self.now, run.staging, run.customers
            )
        checks = [part.check for part in self.parts]
        return gate_buckets(
            checks, self.raw, run.staging, run.run_date, self.now, run.config, run.output, run_id
        )

    def score(self, scored: StagedEvents, validation: ValidationReport) -> ScoreReport:
        return merge_scores(
            self.parts, self.run.staging, self.run.run_date, self.run.config.tier_boundaries
        )

    def metrics(self, scored: StagedEvents, scoring: ScoreReport) -> MetricsReport | None:
        run = self.run
        with run.timed("metrics"):
            return merge_panels(self.parts, run.config, run.run_date, run.staging, run.customers)


class IncrementalFileEvents(FileEvents):
    """`incremental` on event files: only new or changed files read, their daily aggregates
    (event counts and the metric panel's tables) refreshed, and the window scored and the
    metric panel computed from the aggregates."""

    plan: AggregatePlan
    valid_in_memory = False  # the aggregate refresh reads the new files' valid events

    def files_to_read(self) -> list[str]:
        run = self.run
        self.plan = plan_aggregates(find_event_files(run.events), run.output, run.config)
        return self.plan.read

    def score(self, scored: StagedEvents, validation: ValidationReport) -> ScoreReport:
        run = self.run
        refreshed = refresh_daily_aggregates(
            validation.valid_path, self.plan, run.output, run.config
        )
        get_run_logger().info("daily aggregates: %s", refreshed)
        return score_from_aggregates(
            run.output, run.config, run.run_date, run.staging, keep_totals=True
        )

    def metrics(self, scored: StagedEvents, scoring: ScoreReport) -> MetricsReport | None:
        run = self.run
        assert scoring.totals_file is not None  # score() keeps the totals
        with run.timed("metrics"):
            return compute_metrics_from_aggregates(
                run.output,
                run.config,
                run.run_date,
                run.staging,
                scoring.totals_file,
                run.customers,
            )


class SourceEvents(FileEvents):
    """A configured source: what is new since its watermark read (no input files), the valid
    events added to the event store and scored from it; the watermark advanced once published."""

    extracted: SourceExtraction
    valid_in_memory = False  # added to the event store, and scored from it

    def __init__(self, run: DailyRun, buckets: int, source: SourceConfig) -> None:
        super().__init__(run, buckets)
        self.source = source

    def events_read(self, raw: RawEvents) -> list[str]:
        return [self.extracted.raw_path]  # what the source returned, as staged

    def extract(self) -> str:
        run = self.run
        plan = plan_extraction(self.source, run.output, run.run_date)
        self.extracted = extract_from_source(self.source, plan, run.staging)
        rows, origin = self.extracted.rows_read, self.extracted.origin
        get_run_logger().info("read %d rows of %s %s", rows, origin, plan.window.describe())
        return self.extracted.raw_path  # what was read is in the manifest's extraction

    def stored(self, validation: ValidationReport) -> tuple[StagedEvents, dict[str, Any] | None]:
        run, plan = self.run, self.extracted.plan
        stored = store_events(validation.valid_path, run.output, plan)
        extraction = extraction_manifest(self.extracted, stored, run.output, run.run_date)
        return scoring_input(run.output, validation.valid_path), extraction

    def published(self) -> None:
        advance_watermark(self.extracted.plan, self.run.output, self.run.run_date)


def daily_mode(run: DailyRun, incremental: bool, buckets: int) -> FileEvents:
    """The run's mode, chosen once: a source, incremental files, files in buckets, or files.
    Buckets apply to a full read of event files; the other modes run in one process."""
    if buckets > 1 and (run.source is not None or incremental):
        get_run_logger().warning("buckets apply to a full read of event files: ignored")
    if run.source is not None:
        return SourceEvents(run, buckets, run.source)
    if incremental:
        return IncrementalFileEvents(run, buckets)
    return (BucketedFileEvents if buckets > 1 else FileEvents)(run, buckets)
