"""Retention: activity (DAU/MAU stickiness, activity rate, returning users), churn, the app.

A customer is *active* on a UTC day with at least one event of an active type (by default
every event type with a positive weight).
"""

import polars as pl

from scoring.config import ScoringConfig
from scoring.engagement import Window
from scoring.metrics.rates import count_of, percent, ratio
from scoring.schema import UTC_TIMESTAMP


def active_event(config: ScoringConfig) -> pl.Expr:
    """Whether an event makes its customer active: its type is in `metrics.active_event_types`,
    or by default has a positive weight (every event when no weight is positive)."""
    types = config.metric_settings.active_event_types
    if types is None:
        types = tuple(t for t, weight in config.weights.items() if weight > 0)
        if not types:
            return pl.lit(True)
    return pl.col("event_type").is_in(types)


BITMASK_DAYS = 62
"""Windows up to this many days count active days with a 64-bit day mask (one pass)."""


def first_and_active_days(events: pl.LazyFrame, window: Window, active: pl.Expr) -> pl.LazyFrame:
    """Per customer: first_event_at and active_days, the distinct UTC days of the window with
    an event where `active` holds. Up to BITMASK_DAYS days: OR of 2 ** day_index over the
    active events, then its bit count (one group-by); longer windows: distinct (customer, day)
    pairs."""
    day_index = (pl.col("occurred_at").dt.epoch("s") - int(window.start.timestamp())) // 86_400
    first = pl.col("occurred_at").min().alias("first_event_at")
    if (window.end - window.start).days <= BITMASK_DAYS:
        # clipped: the in-memory engine raises the power of inactive (earlier) events too
        power = pl.lit(2, dtype=pl.Int64).pow(day_index.clip(0, BITMASK_DAYS))
        day_bit = pl.when(active).then(power).otherwise(0)
        return events.group_by("customer_id").agg(
            first,
            day_bit.cast(pl.Int64)
            .bitwise_or()
            .bitwise_count_ones()
            .cast(pl.Int64)
            .alias("active_days"),
        )
    active_days = (
        events.filter(active)
        .select("customer_id", day_index.alias("day"))
        .unique()
        .group_by("customer_id")
        .agg(pl.len().cast(pl.Int64).alias("active_days"))
    )
    return (
        events.group_by("customer_id")
        .agg(first)
        .join(active_days, on="customer_id", how="left")
        .with_columns(pl.col("active_days").fill_null(0))
    )


def retention_counts(events: pl.LazyFrame, window: Window, config: ScoringConfig) -> pl.LazyFrame:
    """Per customer seen at or before the run date (`events` end with it): first_event_at,
    active_days (distinct active UTC days in the window), cancelled_before_start (a
    cancellation before the window), churned (a cancellation in the window), app_installs and
    app_uninstalls in the window, app_status (`kept` when the latest install/uninstall is an
    install, `deleted` when it is an uninstall, null when neither) and app_installer (an
    install in the window)."""
    in_window = pl.col("occurred_at") >= pl.lit(window.start, dtype=UTC_TIMESTAMP)
    metrics = config.metric_settings
    event_type = pl.col("event_type")
    cancellation = event_type.is_in(metrics.cancellation_events)
    install = event_type == metrics.app_install_event
    app_event = install | (event_type == metrics.app_uninstall_event)
    active = in_window & active_event(config)
    latest_app_event = (
        event_type.filter(app_event)
        .sort_by(pl.col("occurred_at").filter(app_event), pl.col("event_id").filter(app_event))
        .last()
    )
    lifecycle = (
        events.filter(cancellation | app_event)
        .group_by("customer_id")
        .agg(
            (cancellation & ~in_window).any().alias("cancelled_before_start"),
            (cancellation & in_window).any().alias("churned"),
            count_of(install & in_window).alias("app_installs"),
            count_of(app_event & ~install & in_window).alias("app_uninstalls"),
            latest_app_event.alias("app_status"),
            (install & in_window).any().alias("app_installer"),
        )
    )
    return (
        first_and_active_days(events, window, active)
        .join(lifecycle, on="customer_id", how="left")
        .with_columns(
            pl.col("active_days").fill_null(0),
            *[
                pl.col(name).fill_null(False)
                for name in ("cancelled_before_start", "churned", "app_installer")
            ],
            *[pl.col(name).fill_null(0) for name in ("app_installs", "app_uninstalls")],
            pl.when(pl.col("app_status") == metrics.app_install_event)
            .then(pl.lit("kept"))
            .when(pl.col("app_status").is_not_null())
            .then(pl.lit("deleted"))
            .alias("app_status"),
        )
    )


def stickiness(active_days: pl.Expr, active_customers: pl.Expr, window_days: int) -> pl.Expr:
    """DAU / MAU x 100 = (active customer-days / window days) / active customers x 100."""
    return percent(active_days.cast(pl.Float64) / window_days, active_customers)


def activity_rate(active_paying: pl.Expr, paying: pl.Expr) -> pl.Expr:
    """Active paying customers (MAU) / paying customers x 100."""
    return percent(active_paying, paying)


def churn_rate(lost: pl.Expr, at_start: pl.Expr) -> pl.Expr:
    """Customers lost in the period / customers at its start x 100. 10 of 100 -> 10."""
    return percent(lost, at_start)


def returning_users(returning: pl.Expr, active: pl.Expr) -> pl.Expr:
    """Customers active on 2 or more days / active customers x 100."""
    return percent(returning, active)


def mean_return_days(active_days: pl.Expr, active: pl.Expr) -> pl.Expr:
    """How often active customers come back: mean (active days - 1) over active customers."""
    return ratio(active_days - active, active)
