"""The event input contract: the columns every event must have, the optional typed
properties and the provenance columns the readers add."""

import polars as pl

from scoring.schema.columns import UTC_TIMESTAMP, Column

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
