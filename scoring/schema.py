"""The data contracts: event input and every output table, as column name -> Polars dtype.

This module is the single source of truth. Readers (tasks/extract.py), the validation suite
(tasks/validate.py), the Parquet writer (tasks/write.py) and the README tables are all
derived from it.
"""

from dataclasses import dataclass

import polars as pl

UTC_TIMESTAMP = pl.Datetime("us", "UTC")

OUTPUT_SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class Column:
    """One column of a contract: its name, dtype, whether it may be null, and what it means."""

    name: str
    dtype: pl.DataType
    description: str
    nullable: bool = False
    allowed: tuple[str, ...] = ()
    """The only values the column may hold (empty: any value)."""


# The four columns every event must have. Anything else in the input is kept but not scored.
REQUIRED_EVENT_COLUMNS: tuple[Column, ...] = (
    Column("event_id", pl.String(), "unique id of the event; duplicates count once"),
    Column("customer_id", pl.String(), "the customer (account) the event belongs to"),
    Column("event_type", pl.String(), "what happened; weighted by the configuration"),
    Column(
        "occurred_at",
        UTC_TIMESTAMP,
        "when it happened: ISO 8601 with offset or Z in text inputs; naive means UTC",
    ),
)

# Optional typed event properties used by the metric panel; absent columns are null.
OPTIONAL_EVENT_COLUMNS: tuple[Column, ...] = (
    Column("value", pl.Float64(), "numeric answer of a survey (NPS 0-10, CSAT 1-5, effort)", True),
    Column("session_id", pl.String(), "web/app session of a page view", True),
    Column("page", pl.String(), "page path of a page view", True),
    Column("duration_s", pl.Float64(), "seconds spent on the page / in the session", True),
    Column("scroll_pct", pl.Float64(), "share of the page scrolled, 0-100", True),
    Column("amount", pl.Float64(), "order value of a purchase", True),
    Column("feature", pl.String(), "product feature used", True),
)

EVENT_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in REQUIRED_EVENT_COLUMNS)

# Where a row came from, added by the readers so quarantine can point at it.
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"

TIERS: tuple[str, ...] = (
    "churn_risk",
    "very_disengaged",
    "somewhat_engaged",
    "highly_engaged",
    "power_user",
)

SCORES: tuple[Column, ...] = (
    Column("customer_id", pl.String(), "customer id"),
    Column("score", pl.Float64(), "CES = sum over event types of weight x count in the window"),
    Column(
        "tier",
        pl.String(),
        "churn_risk / very_disengaged / somewhat_engaged / highly_engaged / power_user",
        allowed=TIERS,
    ),
    Column("event_count", pl.Int64(), "valid, de-duplicated events of any type in the window"),
    Column(
        "last_event_at",
        UTC_TIMESTAMP,
        "latest valid event at or before the end of the run date (may be before the window)",
    ),
)

CONTRIBUTIONS: tuple[Column, ...] = (
    Column("customer_id", pl.String(), "customer id"),
    Column("event_type", pl.String(), "a weighted event type seen in the window"),
    Column("count", pl.Int64(), "occurrences in the window"),
    Column("weight", pl.Float64(), "configured weight of the event type"),
    Column(
        "contribution",
        pl.Float64(),
        "weight x count (x decay when half_life_days is set); sums to the score",
    ),
)

QUARANTINE_FIXED: tuple[Column, ...] = (
    Column(SOURCE_FILE, pl.String(), "input file the row came from"),
    Column(SOURCE_ROW, pl.Int64(), "1-based data row (record) number within that file"),
    Column("reason", pl.String(), "every rule the row failed, separated by '; '"),
    Column(
        "failed_expectations",
        pl.String(),
        "the Great Expectations expectation(s) behind the reasons, separated by '; '",
    ),
    Column("run_id", pl.String(), "the flow run that quarantined the row", True),
)
"""Quarantine rows carry these plus every raw input column, as text (nothing is lost)."""

ENGAGED_TIERS: frozenset[str] = frozenset({"somewhat_engaged", "highly_engaged", "power_user"})
DISENGAGED_TIERS: frozenset[str] = frozenset({"churn_risk", "very_disengaged"})


def polars_schema(columns: tuple[Column, ...]) -> pl.Schema:
    """The Polars schema of a contract."""
    return pl.Schema({c.name: c.dtype for c in columns})


def arrow_type_name(dtype: pl.DataType) -> str:
    """The Arrow/Parquet name of a contract dtype, as readers of the files see it."""
    if isinstance(dtype, pl.Datetime):
        return f"timestamp[{dtype.time_unit}, tz={dtype.time_zone}]"
    names = {pl.String: "string", pl.Float64: "double", pl.Int64: "int64", pl.Boolean: "bool"}
    return names.get(type(dtype), str(dtype).lower())


def markdown_table(columns: tuple[Column, ...]) -> str:
    """A README-ready table of a contract."""
    rows = ["| column | type | nullable | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{c.name}` | {arrow_type_name(c.dtype)} | {'yes' if c.nullable else 'no'} "
        f"| {c.description} |"
        for c in columns
    ]
    return "\n".join(rows)


OUTPUT_TABLES: dict[str, tuple[Column, ...]] = {
    "scores": SCORES,
    "contributions": CONTRIBUTIONS,
    "quarantine": QUARANTINE_FIXED,
}
"""Every Parquet output table and its contract (README tables are generated from this)."""

OUTPUT_KEYS: dict[str, tuple[str, ...]] = {
    "scores": ("customer_id",),
    "contributions": ("customer_id", "event_type"),
}
"""Columns whose values identify a row of an output table (unique together)."""


def readme_tables() -> str:
    """The README's schema section: the input contract and every output table."""
    sections = ["### Input events\n\n" + markdown_table(REQUIRED_EVENT_COLUMNS)]
    sections += [
        f"### `{name}/run_date=YYYY-MM-DD/part-0.parquet`\n\n{markdown_table(columns)}"
        for name, columns in OUTPUT_TABLES.items()
    ]
    return "\n\n".join(sections)


if __name__ == "__main__":
    print(readme_tables())
