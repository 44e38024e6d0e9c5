"""Validate: the Great Expectations gate over the raw events, quarantine, error budget.

The suites are generated from `scoring.schema` and the configured `validation` rules
(tasks/quality/expectations.py). GX reports the `_row` ids of the failing rows (result_format
COMPLETE), which become the quarantine with every reason and expectation a row failed.
Nothing is lost: rows read = valid + quarantined + duplicates removed, checked at every run.
Over the error budget (or outside the row-count band) the run fails before anything is
published; each output table is validated against its contract before it is published.
"""

import json
import math
import os
import shutil
import statistics
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from scoring.config import RowCountBand, ScoringConfig
from scoring.events import ROW_ID, typed_properties
from scoring.schema import OUTPUT_TABLES, SOURCE_FILE, SOURCE_ROW
from tasks.extract.files import OCCURRED_AT_TEXT
from tasks.publish.atomic import discard
from tasks.publish.write import (
    MANIFEST_TABLE,
    PART_FILE,
    partition_dir,
    write_partition,
    write_staged,
)
from tasks.quality.data_docs import (
    Outcome,
    build_data_docs,
    docs_dir,
    failed_docs_dir,
    failing_row_ids,
    markdown_summary,
    run_suite,
)
from tasks.quality.expectations import (
    EVENT_TYPES_SUITE,
    RAW_SUITE,
    TABLE_SUITE,
    Rule,
    check_columns,
    event_type_rules,
    output_rules,
    output_suspects,
    raw_event_rules,
    repeat_candidates,
    repeated_hashes,
    row_flags,
    table_rules,
)

SUITE_NAME = RAW_SUITE

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


class QualityGateError(RuntimeError):
    """The data-quality gate failed: the run stops before anything is published."""


@dataclass(frozen=True)
class Validated:
    """The outcome of validating one run's raw events."""

    valid: pl.DataFrame
    quarantine: pl.DataFrame
    rows_read: int
    duplicates_removed: int
    outcomes: list[Outcome] = field(default_factory=list)
    unknown_event_types: dict[str, int] = field(default_factory=dict)
    gate_failures: list[str] = field(default_factory=list)

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.height

    @property
    def rows_valid(self) -> int:
        return self.valid.height


def _reason(reason: str, raw_text: str | None) -> str:
    if reason == "occurred_at is missing" and raw_text is not None:
        return "occurred_at is not a valid ISO 8601 timestamp"
    return reason


def row_count_band(
    output: str | Path | None, run_date: date, band: RowCountBand | None
) -> tuple[int, int | None] | None:
    """[low, high] rows expected from the manifests of the latest earlier run dates.

    low = floor(min_ratio x median), high = ceil(max_ratio x median) of `counts.rows_read`;
    None while fewer than `min_history` earlier runs exist.
    """
    if output is None or band is None:
        return None
    earlier = []
    for manifest in sorted((Path(output) / MANIFEST_TABLE).glob("run_date=*/manifest.json")):
        day = date.fromisoformat(manifest.parent.name.removeprefix("run_date="))
        if day < run_date:
            earlier.append(json.loads(manifest.read_text())["counts"]["rows_read"])
    recent = earlier[-band.recent_runs :]
    if len(recent) < band.min_history:
        return None
    median = statistics.median(recent)
    high = None if band.max_ratio is None else math.ceil(band.max_ratio * median)
    return math.floor(band.min_ratio * median), high


@dataclass(frozen=True)
class _RowChecks:
    """What the row-level pass over the raw events found (small: suspects, not the table)."""

    reasons: dict[int, list[tuple[str, str]]]
    outcomes: list[Outcome]
    unknown_event_types: dict[str, int]
    repeated_event_ids: int
    suspects: pl.DataFrame  # the raw rows GX failed, with their `position` in the input
    valid: pl.DataFrame  # the other rows, de-duplicated, property columns typed


POSITION = "position"


def _kept_events(
    raw: pl.DataFrame, hashes: pl.Series, suspects: pl.Series, numbers: pl.DataFrame
) -> tuple[pl.DataFrame, int]:
    """The valid events (the rows neither suspect nor a later occurrence of an earlier
    valid row's `event_id`) and how many rows repeat an earlier row's `event_id`."""
    rows = raw.lazy().with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(POSITION))
    # ids whose hash repeats (few), in input order: a later occurrence is a duplicate
    candidates = repeat_candidates(rows, hashes).collect()
    later = ~pl.col("event_id").is_first_distinct()
    repeated = candidates.select(later.sum()).item()
    later_duplicates = (
        candidates.filter(~pl.col(POSITION).is_in(suspects.implode()))
        .filter(later)
        .get_column(POSITION)
    )
    # rows keep their input (`_row`) order, so the first distinct id is
    # scoring.events.first_occurrences; one filter (one copy of the strings) for both
    dropped = pl.concat([suspects, later_duplicates])
    keep = pl.repeat(True, raw.height, dtype=pl.Boolean, eager=True).scatter(dropped, False)
    # typed property columns (value, amount, …) for the metric panel; bad numbers are
    # quarantined, and those given as text were parsed by the checks already
    valid = typed_properties(
        raw.with_columns(numbers).filter(keep).drop(OCCURRED_AT_TEXT).lazy()
    ).collect()
    return valid, int(repeated)


def _row_checks(
    raw: pl.DataFrame,
    config: ScoringConfig,
    run_date: date,
    now: datetime,
    staging: str | Path | None,
) -> _RowChecks:
    """Run the raw-events suites with GX, de-duplicate ids, count event types.

    The event types are counted first (their few distinct values are checked for control
    characters once); then one Polars pass over the raw rows flags the suspect rows (those a
    row-level expectation flags, by `failure_of`) beside the repeated id hashes. Only the
    suspects get their check columns; GX validates them and names the failing `_row` ids,
    which must be exactly the suspects.
    """
    rules = config.validation_rules
    suite = raw_event_rules(raw, rules, run_date, now)
    rows = raw.lazy().with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(POSITION))
    type_counts = raw.lazy().group_by("event_type").len().drop_nulls("event_type").collect()
    event_types = type_counts.get_column("event_type")
    flags, hashes = pl.collect_all(
        [row_flags(raw, rules, suite, event_types), repeated_hashes(rows)]
    )
    positions = flags.get_column("suspect").arg_true().cast(pl.Int64).alias(POSITION)
    # one chunk, like the raw frame's columns: the valid events keep the layout they had
    numbers = flags.drop("suspect").rename(lambda name: name.removesuffix("__parsed")).rechunk()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Polars builds the valid events (it releases the GIL) while GX, in Python, checks
        # the suspects: GX fails exactly the suspects (checked below) or the run stops
        kept = pool.submit(_kept_events, raw, hashes.to_series(), positions, numbers)
        suspects = raw[positions].with_columns(positions)
        reasons, outcomes, unknown = gx_suspect_checks(
            suspects, config, run_date, staging, suite, type_counts
        )
        valid, repeated = kept.result()
        return _RowChecks(reasons, outcomes, unknown, repeated, suspects, valid)


def gx_suspect_checks(
    suspects: pl.DataFrame,
    config: ScoringConfig,
    run_date: date,
    staging: str | Path | None,
    suite: list[Rule],
    type_counts: pl.DataFrame,
) -> tuple[dict[int, list[tuple[str, str]]], list[Outcome], dict[str, int]]:
    """GX on the suspect rows (the raw rows a row-level rule flags, with their `position`)
    and on the kept rows' event types (`type_counts`: every row's, by event_type): each
    failing row's reasons, every expectation's outcome and the unknown event types."""
    rules = config.validation_rules
    row_rules = {i: r for i, r in enumerate(suite) if r.quarantines}
    # only the suspects get their check columns: those of valid rows are never stored
    suspect_frame = check_columns(suspects, rules).collect().to_pandas()
    outcomes, _ = run_suite(RAW_SUITE, suspect_frame, suite, run_date, staging)
    failed_rules = {i: r for i, r in row_rules.items() if not outcomes[i].success}
    failing = failing_row_ids(suspect_frame, failed_rules, ROW_ID) if failed_rules else {}
    raw_text = dict(suspects.select(ROW_ID, OCCURRED_AT_TEXT).iter_rows())
    reasons: dict[int, list[tuple[str, str]]] = {}
    for index, failed_rows in sorted(failing.items()):  # reasons in suite order
        if len(failed_rows) != (outcomes[index].unexpected_count or 0):
            raise RuntimeError(
                f"{outcomes[index].expectation}: GX counted {outcomes[index].unexpected_count} "
                f"failing rows but named {len(failed_rows)}"
            )
        for row in failed_rows:
            reason = _reason(suite[index].reason, raw_text.get(int(row)))
            reasons.setdefault(int(row), []).append((reason, outcomes[index].expectation))
    if len(reasons) != suspects.height:
        raise RuntimeError(
            f"{suspects.height} suspect rows but GX failed {len(reasons)}: "
            "tasks.quality.expectations.failure_of disagrees with Great Expectations"
        )

    unknown: dict[str, int] = {}
    if config.event_catalogue:
        # the types of the kept rows: all rows' counts less the quarantined rows'
        quarantined_types = suspects.group_by("event_type").len().rename({"len": "quarantined"})
        types = (
            type_counts.join(quarantined_types, on="event_type", how="left")
            .with_columns((pl.col("len") - pl.col("quarantined").fill_null(0)).alias("len"))
            .filter(pl.col("len") > 0)
            .select("event_type", "len")
            .sort("event_type")
        )
        type_rules = event_type_rules(config.event_catalogue)
        type_outcomes, unexpected = run_suite(
            EVENT_TYPES_SUITE, types.to_pandas(), type_rules, run_date, staging, True
        )
        outcomes += type_outcomes
        unknown_types = set(unexpected.get(0, []))
        unknown = {t: n for t, n in types.iter_rows() if t in unknown_types}
    return reasons, outcomes, unknown


def failing_rows(
    raw: pl.DataFrame,
    config: ScoringConfig | None = None,
    run_date: date | None = None,
    now: datetime | None = None,
    staging: str | Path | None = None,
) -> tuple[dict[int, list[tuple[str, str]]], list[Outcome], dict[str, int], int]:
    """Run the raw-events suites with GX.

    Returns `_row` id -> [(reason, expectation)] for every failing row, every expectation's
    outcome, the unknown event types with their row counts, and the repeated event ids.
    """
    config = config or ScoringConfig()
    now = now or datetime.now(UTC)
    checks = _row_checks(raw, config, run_date or now.date(), now, staging)
    return checks.reasons, checks.outcomes, checks.unknown_event_types, checks.repeated_event_ids


def table_gate(
    rows_read: int,
    rows_quarantined: int,
    repeated_event_ids: int,
    config: ScoringConfig,
    band: tuple[int, int | None] | None,
    run_date: date,
    staging: str | Path | None = None,
) -> tuple[list[Outcome], list[str]]:
    """GX on the table's aggregates: error budget, repeated ids, volume band.

    Returns the outcomes and why the run must stop (failing critical expectations).
    """
    rules = config.validation_rules
    share = rows_quarantined / rows_read if rows_read else 0.0
    aggregates = {
        "rows_read": rows_read,
        "quarantined_share": share,
        "repeated_event_ids": repeated_event_ids,
    }
    frame = pd.DataFrame({name: [value] for name, value in aggregates.items()})
    suite = table_rules(rules, band, rows_quarantined)
    outcomes, _ = run_suite(TABLE_SUITE, frame, suite, run_date, staging)
    outcomes = [
        replace(o, observed_value=str(aggregates[r.expectation.configuration.kwargs["column"]]))
        for o, r in zip(outcomes, suite, strict=True)
    ]
    failed = {o.expectation for o in outcomes if not o.success and o.severity == "critical"}
    failures = []
    if "expect_column_values_to_be_between(quarantined_share)" in failed:
        failures.append(
            f"{rows_quarantined:,} of {rows_read:,} rows ({share:.2%}) quarantined, "
            f"above the {rules.error_budget:.2%} error budget"
        )
    if band is not None and "expect_column_values_to_be_between(rows_read)" in failed:
        failures.append(
            f"rows read outside the expected band [{band[0]}, {band[1] or ''}] versus recent "
            f"runs (observed {rows_read})"
        )
    return outcomes, failures


def quarantine_rows(
    raw: pl.DataFrame, reasons: dict[int, list[tuple[str, str]]], run_id: str | None = None
) -> pl.DataFrame:
    """The failing rows with every raw field as text, where they came from, and why."""
    failing = pl.DataFrame(
        {
            ROW_ID: list(reasons),
            "reason": ["; ".join(r for r, _ in failed) for failed in reasons.values()],
            "failed_expectations": [
                "; ".join(dict.fromkeys(e for _, e in failed)) for failed in reasons.values()
            ],
        },
        schema={ROW_ID: raw.schema[ROW_ID], "reason": pl.String, "failed_expectations": pl.String},
    )
    raw_fields = [c for c in raw.columns if c not in (ROW_ID, SOURCE_FILE, SOURCE_ROW)]
    raw_fields = [c for c in raw_fields if c != OCCURRED_AT_TEXT]
    occurred_text = pl.coalesce(
        pl.col(OCCURRED_AT_TEXT),
        pl.col("occurred_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ"),
    )
    return (
        raw.filter(pl.col(ROW_ID).is_in(failing[ROW_ID].implode()))
        .join(failing, on=ROW_ID, how="inner")
        .sort(ROW_ID)
        .with_columns(occurred_text.alias("occurred_at"), pl.lit(run_id, pl.String).alias("run_id"))
        .select(
            SOURCE_FILE,
            SOURCE_ROW,
            "reason",
            "failed_expectations",
            "run_id",
            *[pl.col(c).cast(pl.String) for c in raw_fields],
        )
    )


def validate(
    raw: pl.DataFrame,
    config: ScoringConfig | None = None,
    run_date: date | None = None,
    now: datetime | None = None,
    output: str | Path | None = None,
    staging: str | Path | None = None,
    run_id: str | None = None,
) -> Validated:
    """Split raw events into valid de-duplicated events and quarantined rows."""
    config = config or ScoringConfig()
    now = now or datetime.now(UTC)
    run_date = run_date or now.date()
    checks = _row_checks(raw, config, run_date, now, staging)
    quarantine, table_outcomes, failures = quarantine_and_gate(
        raw.height,
        checks.suspects,
        checks.reasons,
        checks.repeated_event_ids,
        config,
        run_date,
        output,
        staging,
        run_id,
    )
    passing = raw.height - quarantine.height
    valid = checks.valid
    validated = Validated(
        valid=valid,
        quarantine=quarantine,
        rows_read=raw.height,
        duplicates_removed=passing - valid.height,
        outcomes=checks.outcomes + table_outcomes,
        unknown_event_types=checks.unknown_event_types,
        gate_failures=failures,
    )
    accounted = validated.rows_valid + validated.rows_quarantined + validated.duplicates_removed
    if accounted != validated.rows_read:
        raise RuntimeError(
            f"rows lost in validation: read {validated.rows_read}, accounted for {accounted}"
        )
    return validated


def quarantine_and_gate(
    rows_read: int,
    suspects: pl.DataFrame,
    reasons: dict[int, list[tuple[str, str]]],
    repeated_event_ids: int,
    config: ScoringConfig,
    run_date: date,
    output: str | Path | None,
    staging: str | Path | None,
    run_id: str | None,
) -> tuple[pl.DataFrame, list[Outcome], list[str]]:
    """The quarantine of the failing `suspects` (raw rows with their `position`) and the table
    gate (table_gate, with the row-count band of earlier runs): quarantine, outcomes,
    failures."""
    quarantine = quarantine_rows(suspects.drop(POSITION), reasons, run_id)
    band = row_count_band(output, run_date, config.validation_rules.row_count)
    outcomes, failures = table_gate(
        rows_read, quarantine.height, repeated_event_ids, config, band, run_date, staging
    )
    return quarantine, outcomes, failures


def gate_message(validated: Validated, run_date: date, docs: Path | None, samples: int = 5) -> str:
    """What failed, the top failing expectations, sample rows (file/row) and what to do."""
    failing = sorted(
        (
            o
            for o in validated.outcomes
            if not o.success and o.unexpected_count and o.suite != TABLE_SUITE
        ),
        key=lambda o: -(o.unexpected_count or 0),
    )
    lines = [f"data-quality gate failed for {run_date}: " + "; ".join(validated.gate_failures)]
    if failing:
        lines.append("top failing expectations:")
        lines += [
            f"  {o.expectation} [{o.severity}]: {o.unexpected_count:,} row(s), {o.reason}"
            for o in failing[:5]
        ]
    if validated.quarantine.height:
        lines.append("sample quarantined rows:")
        lines += [
            f"  {file} row {row}: {reason}"
            for file, row, reason in validated.quarantine.head(samples)
            .select(SOURCE_FILE, SOURCE_ROW, "reason")
            .iter_rows()
        ]
    if docs is not None:
        lines.append(f"Data Docs: {docs}")
    lines.append(
        "nothing was published (earlier outputs are untouched): fix the input or raise "
        "validation.error_budget in the configuration"
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class ValidationReport:
    """Counts and staged paths of a validated run (small: passed between tasks)."""

    rows_read: int
    rows_valid: int
    rows_quarantined: int
    duplicates_removed: int
    valid_path: str
    quarantine_file: str
    quarantine_reasons: dict[str, int]
    expectations: list[dict[str, Any]] = field(default_factory=list)
    unknown_event_types: dict[str, int] = field(default_factory=dict)


def reason_counts(quarantine: pl.DataFrame) -> dict[str, int]:
    """How many quarantined rows failed each rule, most frequent first."""
    counts = (
        quarantine.select(pl.col("reason").str.split("; ").explode())
        .group_by("reason")
        .len()
        .sort(["len", "reason"], descending=[True, False])
    )
    return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))


def _keep_failed_docs(
    staging: str, output: str | None, run_date: date, outcomes: list[Outcome]
) -> Path | None:
    """Move the failed run's Data Docs next to the outputs; returns its index.html."""
    staged = build_data_docs(staging, run_date, outcomes).parent
    if output is None:
        return None
    target = failed_docs_dir(output, run_date)
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged.rename(target)
    return target / "index.html"


@task(name="validate-events", cache_policy=NO_CACHE, persist_result=False)
def validate_events(
    raw_path: str,
    staging: str,
    run_date: date,
    config: ScoringConfig | None = None,
    output: str | None = None,
    run_id: str | None = None,
) -> ValidationReport:
    """Run the GX gate on the staged raw events; stage valid events and the quarantine.

    Raises QualityGateError (Data Docs kept under <output>/data_docs/failed/) when the run is
    over the error budget or outside the row-count band.
    """
    validated = validate(
        pl.read_parquet(raw_path), config, run_date, output=output, staging=staging, run_id=run_id
    )
    if validated.gate_failures:
        docs = _keep_failed_docs(staging, output, run_date, validated.outcomes)
        raise QualityGateError(gate_message(validated, run_date, docs))
    valid_path = Path(staging) / "valid_events.parquet"
    write_staged(validated.valid, valid_path)
    quarantine_file = write_partition(validated.quarantine, "quarantine", None, staging, run_date)
    return ValidationReport(
        rows_read=validated.rows_read,
        rows_valid=validated.rows_valid,
        rows_quarantined=validated.rows_quarantined,
        duplicates_removed=validated.duplicates_removed,
        valid_path=str(valid_path),
        quarantine_file=str(quarantine_file),
        quarantine_reasons=reason_counts(validated.quarantine),
        expectations=[o.as_dict() for o in validated.outcomes],
        unknown_event_types=validated.unknown_event_types,
    )


def validate_output_tables(staging: str | Path, run_date: date) -> list[Outcome]:
    """Validate every staged output table against the suite generated from its contract: GX
    on the rows a Polars pass flags and a sample (expectations.output_suspects)."""
    outcomes: list[Outcome] = []
    for table in OUTPUT_TABLES:
        path = partition_dir(staging, table, run_date) / PART_FILE
        if path.exists():
            frame = output_suspects(pl.read_parquet(path), table).to_pandas()
            outcomes += run_suite(table, frame, output_rules(table), run_date, staging)[0]
    return outcomes


@task(name="validate-outputs", cache_policy=NO_CACHE, persist_result=False)
def validate_outputs(
    staging: str, output: str, run_date: date, raw_expectations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Check the staged output tables before publishing and build the run's Data Docs.

    Raises QualityGateError when a table breaks its contract (nothing is published).
    """
    outcomes = validate_output_tables(staging, run_date)
    every_outcome = [Outcome(**e) for e in raw_expectations] + outcomes
    failed = [o for o in outcomes if not o.success]
    if failed:
        docs = _keep_failed_docs(staging, output, run_date, every_outcome)
        details = "; ".join(f"{o.suite}: {o.expectation} ({o.reason})" for o in failed)
        raise QualityGateError(
            f"output tables for {run_date} break their contract: {details}. "
            f"Data Docs: {docs}. Nothing was published."
        )
    build_data_docs(staging, run_date, every_outcome)
    return [o.as_dict() for o in outcomes]


def discard_staging(staging: str) -> None:
    """Remove a run's staging directory, release its lock (and the root when left empty)."""
    discard(staging)


@task(name="report-data-quality", cache_policy=NO_CACHE, persist_result=False)
def report_data_quality(
    expectations: list[dict[str, Any]], counts: dict[str, int], docs: str, run_date: date
) -> str:
    """A Prefect Markdown artifact: counts and every expectation's result, with the docs path."""
    outcomes = [Outcome(**e) for e in expectations]
    markdown = markdown_summary(outcomes, counts, docs)
    create_markdown_artifact(
        markdown=markdown,
        key="data-quality",
        description=f"Data quality of the run for {run_date}: {docs}",
    )
    return markdown


def published_docs_index(output: str | Path, run_date: date) -> str:
    """Where the run's Data Docs index is once published."""
    return str(docs_dir(output, run_date) / "index.html")
