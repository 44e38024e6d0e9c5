"""The data contracts: event input and every output table, as column name -> Polars dtype.

This package is the single source of truth, imported as `scoring.schema`. Readers
(tasks/extract/files.py), the validation suite (tasks/quality/validate.py), the Parquet writer
(tasks/publish/write.py) and the docs' schema tables (readme_tables) are all derived from it.
"""

from scoring.schema.columns import (
    OUTPUT_SCHEMA_VERSION,
    UTC_TIMESTAMP,
    Column,
    arrow_type_name,
    markdown_table,
    polars_schema,
)
from scoring.schema.followups import ACTIONS, FLAG_ENROLMENTS, FLAGS
from scoring.schema.inputs import (
    EVENT_COLUMN_NAMES,
    OPTIONAL_EVENT_COLUMNS,
    REQUIRED_EVENT_COLUMNS,
    SOURCE_FILE,
    SOURCE_ROW,
)
from scoring.schema.metrics import CUSTOMER_METRICS, SEGMENT_METRICS
from scoring.schema.scores import (
    CONTRIBUTIONS,
    DISENGAGED_TIERS,
    ENGAGED_TIERS,
    QUARANTINE_FIXED,
    SCORE_HISTORY,
    SCORES,
    TIERS,
)

__all__ = [
    "ACTIONS",
    "CONTRIBUTIONS",
    "CUSTOMER_METRICS",
    "DISENGAGED_TIERS",
    "ENGAGED_TIERS",
    "EVENT_COLUMN_NAMES",
    "FLAGS",
    "FLAG_ENROLMENTS",
    "OPTIONAL_EVENT_COLUMNS",
    "OUTPUT_KEYS",
    "OUTPUT_SCHEMA_VERSION",
    "OUTPUT_TABLES",
    "QUARANTINE_FIXED",
    "REQUIRED_EVENT_COLUMNS",
    "SCORES",
    "SCORE_HISTORY",
    "SEGMENT_METRICS",
    "SOURCE_FILE",
    "SOURCE_ROW",
    "TIERS",
    "UTC_TIMESTAMP",
    "Column",
    "arrow_type_name",
    "markdown_table",
    "polars_schema",
    "readme_tables",
]

OUTPUT_TABLES: dict[str, tuple[Column, ...]] = {
    "scores": SCORES,
    "contributions": CONTRIBUTIONS,
    "quarantine": QUARANTINE_FIXED,
    "score_history": SCORE_HISTORY,
    "flags": FLAGS,
    "flag_enrolments": FLAG_ENROLMENTS,
    "actions": ACTIONS,
    "customer_metrics": CUSTOMER_METRICS,
    "segment_metrics": SEGMENT_METRICS,
}
"""Every Parquet output table and its contract (the docs' tables are generated from this)."""

OUTPUT_KEYS: dict[str, tuple[str, ...]] = {
    "scores": ("customer_id",),
    "contributions": ("customer_id", "event_type"),
    "customer_metrics": ("customer_id",),
    "score_history": ("customer_id",),
    "flags": ("customer_id",),
    "actions": ("action_id",),
}
"""Columns whose values identify a row of an output table (unique together)."""


def readme_tables() -> str:
    """The schema section of the docs: the input contract and every output table."""
    sections = ["### Input events\n\n" + markdown_table(REQUIRED_EVENT_COLUMNS)]
    sections += ["### Optional event properties\n\n" + markdown_table(OPTIONAL_EVENT_COLUMNS)]
    sections += [
        f"### `{name}/run_date=YYYY-MM-DD/part-0.parquet`\n\n{markdown_table(columns)}"
        for name, columns in OUTPUT_TABLES.items()
    ]
    return "\n\n".join(sections)
