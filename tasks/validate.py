"""Validate: a Great Expectations suite over the raw events, quarantine of the failing rows.

The suite is generated from `scoring.schema`; GX reports the `_row` ids of the failing rows
(result_format COMPLETE), which become the quarantine with every reason a row failed.
Nothing is lost: rows read = valid + quarantined + duplicates removed, checked at every run.
"""

import logging
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.events import ROW_ID, first_occurrences, typed_properties
from scoring.schema import EVENT_COLUMN_NAMES, REQUIRED_EVENT_COLUMNS, SOURCE_FILE, SOURCE_ROW
from tasks.extract import OCCURRED_AT_TEXT
from tasks.write import write_partition

SUITE_NAME = "raw_events"

MAX_FIELD_LENGTH = 256
"""Longest accepted event_id / customer_id / event_type (characters); longer rows are
quarantined (ENGAGE_MAX_FIELD_LENGTH changes it)."""
LIMITED_COLUMNS = ("event_id", "customer_id", "event_type")

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@dataclass(frozen=True)
class Validated:
    """The outcome of validating one run's raw events."""

    valid: pl.DataFrame
    quarantine: pl.DataFrame
    rows_read: int
    duplicates_removed: int

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.height

    @property
    def rows_valid(self) -> int:
        return self.valid.height


def _reason(column: str, raw_text: str | None) -> str:
    if column == "occurred_at" and raw_text is not None:
        return "occurred_at is not a valid ISO 8601 timestamp"
    return f"{column} is missing"


def failing_rows(
    raw: pl.DataFrame, max_field_length: int = MAX_FIELD_LENGTH
) -> dict[int, list[str]]:
    """`_row` id -> reasons, for every row failing the raw-events suite (run by GX)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX pins this module's logger to INFO and logs a line per ephemeral context
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("events")
        .add_dataframe_asset("raw_events")
        .add_batch_definition_whole_dataframe("run")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=SUITE_NAME))
    for column in REQUIRED_EVENT_COLUMNS:
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column.name))
    for name in LIMITED_COLUMNS:  # hostile input: bounded field sizes
        suite.add_expectation(
            gxe.ExpectColumnValueLengthsToBeBetween(column=name, max_value=max_field_length)
        )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="raw_events_gate", data=batch, suite=suite)
    )
    frame = raw.select(ROW_ID, *EVENT_COLUMN_NAMES).to_pandas()
    result = definition.run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_ID]},
    )
    raw_text = dict(zip(raw[ROW_ID].to_list(), raw[OCCURRED_AT_TEXT].to_list(), strict=True))
    reasons: dict[int, list[str]] = {}
    for outcome in result.results:
        column = str(outcome.expectation_config.kwargs["column"])
        too_long = "max_value" in outcome.expectation_config.kwargs
        for failure in outcome.result.get("unexpected_index_list") or []:
            row = int(failure[ROW_ID])
            reason = (
                f"{column} is longer than {max_field_length} characters"
                if too_long
                else _reason(column, raw_text.get(row))
            )
            reasons.setdefault(row, []).append(reason)
    return reasons


def quarantine_rows(raw: pl.DataFrame, reasons: dict[int, list[str]]) -> pl.DataFrame:
    """The failing rows with every raw field as text, where they came from, and why."""
    failing = pl.DataFrame(
        {ROW_ID: list(reasons), "reason": ["; ".join(r) for r in reasons.values()]},
        schema={ROW_ID: raw.schema[ROW_ID], "reason": pl.String},
    )
    raw_fields = [c for c in raw.columns if c not in (ROW_ID, SOURCE_FILE, SOURCE_ROW)]
    raw_fields = [c for c in raw_fields if c != OCCURRED_AT_TEXT]
    occurred_text = pl.coalesce(
        pl.col(OCCURRED_AT_TEXT),
        pl.col("occurred_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ"),
    )
    return (
        raw.join(failing, on=ROW_ID, how="inner")
        .sort(ROW_ID)
        .with_columns(occurred_text.alias("occurred_at"))
        .select(
            SOURCE_FILE,
            SOURCE_ROW,
            "reason",
            *[pl.col(c).cast(pl.String) for c in raw_fields],
        )
    )


def validate(raw: pl.DataFrame, max_field_length: int = MAX_FIELD_LENGTH) -> Validated:
    """Split raw events into valid de-duplicated events and quarantined rows."""
    reasons = failing_rows(raw, max_field_length)
    quarantine = quarantine_rows(raw, reasons)
    passing = raw.filter(~pl.col(ROW_ID).is_in(list(reasons)))
    valid = typed_properties(first_occurrences(passing.lazy())).collect().drop(OCCURRED_AT_TEXT)
    validated = Validated(
        valid=valid,
        quarantine=quarantine,
        rows_read=raw.height,
        duplicates_removed=passing.height - valid.height,
    )
    accounted = validated.rows_valid + validated.rows_quarantined + validated.duplicates_removed
    if accounted != validated.rows_read:
        raise RuntimeError(
            f"rows lost in validation: read {validated.rows_read}, accounted for {accounted}"
        )
    return validated


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


def reason_counts(quarantine: pl.DataFrame) -> dict[str, int]:
    """How many quarantined rows failed each rule, most frequent first."""
    counts = (
        quarantine.select(pl.col("reason").str.split("; ").explode())
        .group_by("reason")
        .len()
        .sort(["len", "reason"], descending=[True, False])
    )
    return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))


@task(name="validate-events", cache_policy=NO_CACHE, persist_result=False)
def validate_events(raw_path: str, staging: str, run_date: date) -> ValidationReport:
    """Run the GX gate on the staged raw events; stage valid events and the quarantine."""
    limit = int(os.environ.get("ENGAGE_MAX_FIELD_LENGTH", MAX_FIELD_LENGTH))
    validated = validate(pl.read_parquet(raw_path), limit)
    valid_path = Path(staging) / "valid_events.parquet"
    validated.valid.write_parquet(valid_path)
    quarantine_file = write_partition(validated.quarantine, "quarantine", None, staging, run_date)
    return ValidationReport(
        rows_read=validated.rows_read,
        rows_valid=validated.rows_valid,
        rows_quarantined=validated.rows_quarantined,
        duplicates_removed=validated.duplicates_removed,
        valid_path=str(valid_path),
        quarantine_file=str(quarantine_file),
        quarantine_reasons=reason_counts(validated.quarantine),
    )
