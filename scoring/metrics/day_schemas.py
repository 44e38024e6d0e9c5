"""The daily tables' columns (scoring.metrics.panel_days): what each metric needs of the
events, per customer and UTC day, and the running history tables' columns."""

import polars as pl

from scoring.aggregates import (
    EVENT_DATE,
)
from scoring.metrics.rates import EXACT_DECIMALS
from scoring.schema import UTC_TIMESTAMP

DECIMAL = pl.Decimal(38, EXACT_DECIMALS)
DAY = pl.col("occurred_at").dt.date().alias(EVENT_DATE)

SURVEY_COUNTS = (
    "csat_responses", "csat_satisfied", "nps_responses", "nps_promoters", "nps_detractors",
    "effort_responses",
)  # fmt: skip
PAGE_VIEW_COUNTS = (
    "page_views", "timed_page_views", "scrolled_page_views", "session_page_views",
)  # fmt: skip
PAGE_VIEW_SUMS = ("page_seconds", "scroll_total", "session_seconds")
SESSION_COUNTS = ("sessions", "single_sessions", "timed_sessions", "bounced_sessions")

CUSTOMER_DAYS = pl.Schema(
    {
        "customer_id": pl.String(),
        EVENT_DATE: pl.Date(),
        **{name: pl.Int64() for name in SURVEY_COUNTS},
        "effort_total": DECIMAL,
        "nps_at": UTC_TIMESTAMP,
        "nps_event_id": pl.String(),
        "nps_response": pl.Float64(),
        **{name: pl.Int64() for name in PAGE_VIEW_COUNTS},
        **{name: DECIMAL for name in PAGE_VIEW_SUMS},
        **{name: pl.Int64() for name in SESSION_COUNTS},
    }
)
SESSION_DAYS = pl.Schema(
    {
        "customer_id": pl.String(),
        "session_id": pl.String(),
        EVENT_DATE: pl.Date(),
        "session_key": pl.UInt64(),
        "views": pl.Int64(),
        "timed": pl.Int64(),
        "seconds": DECIMAL,
        "scrolled": pl.Int64(),
        "scroll": DECIMAL,
        "last_view_at": UTC_TIMESTAMP,
        "last_view_id": pl.String(),
        "exit_page": pl.String(),
        "interactions": pl.Int64(),
    }
)
PAGE_DAYS = pl.Schema(
    {
        "customer_id": pl.String(),
        "page": pl.String(),
        EVENT_DATE: pl.Date(),
        "views": pl.Int64(),
        "exits": pl.Int64(),
    }
)
FEATURE_DAYS = pl.Schema(
    {"customer_id": pl.String(), "feature": pl.String(), EVENT_DATE: pl.Date()}
)
PURCHASE_DAYS = pl.Schema(
    {
        "customer_id": pl.String(),
        EVENT_DATE: pl.Date(),
        "valued_purchases": pl.Int64(),
        "purchase_amount": DECIMAL,
    }
)
TYPE_DAYS = pl.Schema(
    {
        "customer_id": pl.String(),
        "event_type": pl.String(),
        EVENT_DATE: pl.Date(),
        "last_event_at": UTC_TIMESTAMP,
        "last_event_id": pl.String(),
    }
)
"""Per customer, day and history type (event_type null: any event): the latest event."""
ATTRIBUTE_DAYS = pl.Schema(
    {
        "customer_id": pl.String(),
        "attribute": pl.String(),
        EVENT_DATE: pl.Date(),
        "last_event_at": UTC_TIMESTAMP,
        "last_event_id": pl.String(),
        "value": pl.String(),
    }
)
FIRST_DAYS = pl.Schema(
    {"customer_id": pl.String(), "event_type": pl.String(), "first_day": pl.Date()}
)
"""type_days merged over days: each customer's first day, of any event (event_type null) and of
each history type."""
APP_LATEST = pl.Schema(
    {
        "customer_id": pl.String(),
        "event_type": pl.String(),
        "last_event_at": UTC_TIMESTAMP,
        "last_event_id": pl.String(),
    }
)
"""type_days of the app install and uninstall types merged over days: the latest of each."""
ATTRIBUTE_HISTORY = pl.Schema(
    {
        "customer_id": pl.String(),
        "attribute": pl.String(),
        "last_event_at": UTC_TIMESTAMP,
        "last_event_id": pl.String(),
        "value": pl.String(),
    }
)
"""attribute_days merged over days: each customer's latest value of each attribute."""
