"""Validate for scale-out: the row checks of one customer bucket, and the gate over all of them.

A bucket's task flags its own raw rows (the Polars pass of the raw-events suite, `row_flags`)
and drops its later duplicates; the gate then runs Great Expectations once on the few suspect
rows of every bucket, the event-type and table suites on their summed counts, and stages the
quarantine: the same expectations, quarantine and counts as validate.validate of all rows.
"""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.config import ScoringConfig
from scoring.events import ROW_ID, later_occurrences, typed_properties
from tasks.extract.buckets import BucketedRaw
from tasks.extract.files import OCCURRED_AT_TEXT
from tasks.publish.write import write_partition, write_staged
from tasks.quality.expectations import raw_event_rules, row_flags
from tasks.quality.validate import (
    POSITION,
    QualityGateError,
    Validated,
    ValidationReport,
    _keep_failed_docs,
    check_accounted,
    gate_message,
    gx_suspect_checks,
    quarantine_and_gate,
    reason_counts,
)


@dataclass(frozen=True)
class BucketRows:
    """One bucket's row checks: its valid events (in memory, for the bucket's next steps),
    its suspect raw rows (with their `position` in the input), its event types' counts."""

    valid: pl.DataFrame
    suspects: pl.DataFrame
    type_counts: pl.DataFrame
    rows_read: int
    duplicates: int


def later_duplicates(repeats: pl.DataFrame, suspect: pl.Series) -> pl.Series:
    """The `_row` ids of the repeats (every raw row whose id hash repeats) that are a later
    occurrence of a passing row's event_id (scoring.events.later_occurrences over the passing
    repeats): a quarantined row does not shadow a later valid one, as validate._kept_events
    decides over all the rows."""
    passing = repeats.filter(~suspect).lazy()
    return later_occurrences(passing).collect().get_column(ROW_ID)


def bucket_rows(
    raw: pl.DataFrame, repeats: pl.DataFrame, config: ScoringConfig, run_date: date, now: datetime
) -> BucketRows:
    """The row checks of one bucket's raw events (`repeats`: tasks.extract.buckets.REPEATS_FILE,
    read by every bucket)."""
    rules = config.validation_rules
    suite = raw_event_rules(raw, rules, run_date, now)
    type_counts = raw.lazy().group_by("event_type").len().drop_nulls("event_type").collect()
    flags, repeat_flags = pl.collect_all(
        [
            row_flags(raw, rules, suite, type_counts.get_column("event_type")),
            row_flags(repeats, rules, suite),
        ]
    )
    suspect = flags.get_column("suspect")
    numbers = flags.drop("suspect").rename(lambda name: name.removesuffix("__parsed"))
    later = later_duplicates(repeats, repeat_flags.get_column("suspect"))
    duplicate = raw.get_column(ROW_ID).is_in(later.implode())
    keep = ~suspect & ~duplicate
    valid = typed_properties(
        raw.with_columns(numbers).filter(keep).drop(OCCURRED_AT_TEXT).lazy()
    ).collect()
    suspects = raw.filter(suspect).with_columns(pl.col(ROW_ID).cast(pl.Int64).alias(POSITION))
    return BucketRows(valid, suspects, type_counts, raw.height, int(duplicate.sum()))


@dataclass(frozen=True)
class BucketCheck:
    """What a bucket's row checks leave for the gate (paths and counts: small)."""

    bucket: int
    suspects_file: str
    type_counts: dict[str, int]
    rows_read: int
    rows_valid: int
    duplicates: int


def staged_check(rows: BucketRows, staging: str, bucket: int) -> BucketCheck:
    """Stage a bucket's suspect rows for the gate."""
    target = Path(staging) / "_buckets" / "suspects" / f"bucket={bucket}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_staged(rows.suspects, target)
    return BucketCheck(
        bucket=bucket,
        suspects_file=str(target),
        type_counts=dict(rows.type_counts.iter_rows()),
        rows_read=rows.rows_read,
        rows_valid=rows.valid.height,
        duplicates=rows.duplicates,
    )


@task(name="gate-buckets", cache_policy=NO_CACHE, persist_result=False)
def gate_buckets(
    checks: list[BucketCheck],
    raw: BucketedRaw,
    staging: str,
    run_date: date,
    now: datetime,
    config: ScoringConfig,
    output: str | None = None,
    run_id: str | None = None,
) -> ValidationReport:
    """The data-quality gate over every bucket's row checks: GX on their suspect rows, the
    event types and the table; stage the quarantine. Raises QualityGateError as
    validate_events does."""
    schema = pl.scan_parquet(raw.partitions[0], glob=False).collect_schema()
    suite = raw_event_rules(pl.DataFrame(schema=schema), config.validation_rules, run_date, now)
    suspects = pl.concat([pl.read_parquet(c.suspects_file, glob=False) for c in checks]).sort(
        POSITION
    )
    counts: dict[str, int] = {}
    for check in checks:
        for event_type, rows in check.type_counts.items():
            counts[event_type] = counts.get(event_type, 0) + rows
    type_counts = pl.DataFrame(
        {"event_type": list(counts), "len": list(counts.values())},
        schema={"event_type": pl.String, "len": pl.UInt32},
    )
    reasons, outcomes, unknown = gx_suspect_checks(
        suspects, config, run_date, staging, suite, type_counts
    )
    duplicates = sum(c.duplicates for c in checks)
    quarantine, table_outcomes, failures = quarantine_and_gate(
        raw.rows, suspects, reasons, duplicates, config, run_date, output, staging, run_id
    )
    rows_valid = sum(c.rows_valid for c in checks)
    check_accounted(raw.rows, rows_valid, quarantine.height, duplicates)
    validated = Validated(
        valid=pl.DataFrame(),
        quarantine=quarantine,
        rows_read=raw.rows,
        duplicates_removed=duplicates,
        outcomes=outcomes + table_outcomes,
        unknown_event_types=unknown,
        gate_failures=failures,
    )
    if failures:
        docs = _keep_failed_docs(staging, output, run_date, validated.outcomes)
        raise QualityGateError(gate_message(validated, run_date, docs))
    quarantine_file = write_partition(quarantine, "quarantine", None, staging, run_date)
    return ValidationReport(
        rows_read=raw.rows,
        rows_valid=rows_valid,
        rows_quarantined=quarantine.height,
        duplicates_removed=validated.duplicates_removed,
        valid_path=str(Path(staging) / "_buckets"),
        quarantine_file=str(quarantine_file),
        quarantine_reasons=reason_counts(quarantine),
        expectations=[o.as_dict() for o in validated.outcomes],
        unknown_event_types=unknown,
    )
