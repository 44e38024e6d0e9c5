"""Segments: customer attributes (customers table or event columns), percentiles within a
segment, and every metric aggregated per segment."""

from collections.abc import Iterable

import polars as pl

from scoring.schema import (
    OPTIONAL_EVENT_COLUMNS,
    REQUIRED_EVENT_COLUMNS,
    TIERS,
)

SIGNUP_COHORT = "signup_cohort"
"""A derived attribute: the month (YYYY-MM) of the signup date, else of the first event."""
ALL = "all"
"""The segment (and its value) holding the whole scored population."""

_EVENT_CONTRACT = {c.name for c in REQUIRED_EVENT_COLUMNS + OPTIONAL_EVENT_COLUMNS}


def typed_customers(customers: pl.LazyFrame) -> pl.LazyFrame:
    """A customers table with text attributes: customer_id and every column as stripped text,
    except signup_date as a date (text YYYY-MM-DD..., a timestamp or a date; null if not)."""
    schema = customers.collect_schema()
    signup = schema.get("signup_date")
    if signup is None:
        signup_date = pl.lit(None, dtype=pl.Date)
    elif signup == pl.String:
        signup_date = (
            pl.col("signup_date")
            .str.strip_chars()
            .str.slice(0, 10)
            .str.to_date("%Y-%m-%d", strict=False)
        )
    elif isinstance(signup, pl.Datetime):
        signup_date = pl.col("signup_date").dt.date()
    else:
        signup_date = pl.col("signup_date").cast(pl.Date, strict=False)
    return customers.with_columns(
        *[
            pl.col(name).cast(pl.String).str.strip_chars()
            for name in schema
            if name != "signup_date"
        ],
        signup_date.alias("signup_date"),
    )


def attribute_sources(
    names: Iterable[str], customer_columns: Iterable[str], event_columns: Iterable[str]
) -> dict[str, str]:
    """Where each wanted attribute comes from: `customers` (the table), `events` (an extra
    event column) or `derived` (signup_cohort); attributes found nowhere are left out."""
    customer_columns, event_columns = set(customer_columns), set(event_columns)
    sources = {}
    for name in dict.fromkeys(names):
        if name in customer_columns and name != "customer_id":
            sources[name] = "customers"
        elif name in event_columns and name not in _EVENT_CONTRACT:
            sources[name] = "events"
        elif name == SIGNUP_COHORT:
            sources[name] = "derived"
    return sources


def customer_attributes(
    customers: pl.LazyFrame | None, events: pl.LazyFrame, sources: dict[str, str]
) -> pl.LazyFrame:
    """Per customer of the table or the events: table_signup_date and the attributes that come
    from the table or from event columns, as text. An event-column attribute is the customer's
    latest non-null value in `events` (which end with the run date). Derived attributes
    (signup_cohort, see signup_cohort()) are added by the caller."""
    from_events = [name for name, source in sources.items() if source == "events"]
    table_columns = [name for name, source in sources.items() if source == "customers"]
    table = (
        customers.select(
            "customer_id", *table_columns, pl.col("signup_date").alias("table_signup_date")
        )
        if customers is not None
        else pl.LazyFrame(schema={"customer_id": pl.String, "table_signup_date": pl.Date})
    )
    if not from_events:
        return table
    for name in from_events:
        table = table.join(latest_values(events, name), on="customer_id", how="full", coalesce=True)
    return table


def latest_values(events: pl.LazyFrame, name: str) -> pl.LazyFrame:
    """Per customer with a value in the event column `name`: its latest value as text (ties
    on time broken by event_id). Only the events at each customer's latest instant are sorted
    (twice as fast as sorting every customer's values in the group-by)."""
    carrying = events.filter(pl.col(name).is_not_null())
    latest = carrying.group_by("customer_id").agg(pl.col("occurred_at").max())
    return (
        carrying.join(latest, on=["customer_id", "occurred_at"], how="semi")
        .sort("event_id")
        .group_by("customer_id")
        .agg(pl.col(name).cast(pl.String).last())
    )


def signup_cohort(signup_date: pl.Expr, first_event_at: pl.Expr) -> pl.Expr:
    """The signup month (YYYY-MM) of the signup date, else of the first event."""
    return pl.coalesce(signup_date, first_event_at.dt.date()).dt.strftime("%Y-%m")


def score_percentile(segment: str | None) -> pl.Expr:
    """% of the customers of the same segment value whose score is at or below this one's
    (the top scorer is at 100; equal scores share a percentile); over everyone without one."""
    rank = pl.col("score").rank("max")
    count = pl.len()
    if segment is not None:
        rank, count = rank.over(segment), count.over(segment)
    return (rank.cast(pl.Float64) * 100.0 / count).alias("score_percentile")


def tier_shares(sums: pl.LazyFrame) -> pl.LazyFrame:
    """Per segment value (columns segment, segment_value, customers and in_<tier>, the
    customers of each tier) and tier: share of the value's customers in the tier, every tier
    listed (detail: the tier)."""
    key = ["segment", "segment_value", "customers"]
    # divided before the unpivot: after it, a batch may hold `customers` as one repeated value,
    # and Polars divides by such a scalar as a multiplication by its reciprocal (last bit off)
    shares = [(pl.col(f"in_{tier}") * 100.0 / pl.col("customers")).alias(tier) for tier in TIERS]
    return (
        sums.select(*key, *shares)
        .unpivot(index=key, variable_name="detail", value_name="value")
        .with_columns(
            pl.lit("tier_share").alias("metric"),
            pl.col("customers").alias("observations"),
        )
    )
