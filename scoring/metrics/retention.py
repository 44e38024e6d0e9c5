"""Retention: activity (DAU/MAU stickiness, activity rate, returning users), churn, the app.

A customer is *active* on a UTC day with at least one event of an active type (by default
every event type with a positive weight).
"""

from collections.abc import Collection

import polars as pl

from scoring.aggregates import first_before, of_types
from scoring.config import ScoringConfig
from scoring.engagement import Window
from scoring.metrics.rates import flag, percent, ratio, total_where, when_possible
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


def active_days(window_events: pl.LazyFrame, window: Window, active: pl.Expr) -> pl.LazyFrame:
    """Per customer with an event of the window where `active` holds: active_days, the
    distinct UTC days with such an event. Up to BITMASK_DAYS days: OR of 2 ** day_index, then
    its bit count (one group-by); longer windows: distinct (customer, day) pairs."""
    day_index = (pl.col("occurred_at").dt.epoch("s") - int(window.start.timestamp())) // 86_400
    active_events = window_events.filter(active)
    if (window.end - window.start).days <= BITMASK_DAYS:
        day_bit = pl.lit(2, dtype=pl.Int64).pow(day_index).cast(pl.Int64)
        return active_events.group_by("customer_id").agg(
            day_bit.bitwise_or().bitwise_count_ones().cast(pl.Int64).alias("active_days")
        )
    return (
        active_events.select("customer_id", day_index.alias("day"))
        .unique()
        .group_by("customer_id")
        .agg(pl.len().cast(pl.Int64).alias("active_days"))
    )


def lifecycle_totals(
    window: Window, config: ScoringConfig, present: Collection[str] | None = None
) -> list[pl.Expr]:
    """Aggregations of a customer's event-type totals (scoring.aggregates.EVENT_TYPE_TOTALS,
    holding the `present` event types when known, see of_types): cancelled_before_start (a
    cancellation before the window), churned (a cancellation in the window), app_installs and
    app_uninstalls in the window, app_installer (an install in it), installed_at and
    uninstalled_at (the latest install and uninstall by the run date)."""
    metrics = config.metric_settings
    count = pl.col("count")
    cancellation = of_types(metrics.cancellation_events, present)
    install = of_types([metrics.app_install_event], present)
    uninstall = of_types([metrics.app_uninstall_event], present)
    installs = total_where(count, install)
    false = pl.lit(False)

    def latest(event: pl.Expr) -> pl.Expr:
        at = pl.when(event).then(pl.col("last_event_at")).max()
        return when_possible(event, at, pl.lit(None, dtype=UTC_TIMESTAMP))

    return [
        when_possible(cancellation, (cancellation & first_before(window)).any(), false).alias(
            "cancelled_before_start"
        ),
        when_possible(cancellation, (cancellation & (count > 0)).any(), false).alias("churned"),
        installs.alias("app_installs"),
        total_where(count, uninstall).alias("app_uninstalls"),
        when_possible(install, installs > 0, false).alias("app_installer"),
        latest(install).alias("installed_at"),
        latest(uninstall).alias("uninstalled_at"),
    ]


def app_event(config: ScoringConfig) -> pl.Expr:
    """Whether an event is an app install or uninstall."""
    metrics = config.metric_settings
    return pl.col("event_type").is_in([metrics.app_install_event, metrics.app_uninstall_event])


def app_status(events: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """Per customer with an app install or uninstall in `events` (which end with the run
    date): app_status, `kept` when the latest of them is an install, `deleted` when it is an
    uninstall (ties on time broken by event_id)."""
    metrics = config.metric_settings
    event_type = pl.col("event_type")
    latest = event_type.sort_by("occurred_at", "event_id").last()
    return (
        events.filter(app_event(config))
        .group_by("customer_id")
        .agg(
            pl.when(latest == metrics.app_install_event)
            .then(pl.lit("kept"))
            .otherwise(pl.lit("deleted"))
            .alias("app_status")
        )
    )


def latest_app_status(installed_at: pl.Expr, uninstalled_at: pl.Expr) -> pl.Expr:
    """app_status from the latest install and uninstall times (lifecycle_totals): `kept` or
    `deleted` as in app_status; null without either, and for a tie (both at the same instant,
    which only the events' ids decide: see app_ties)."""
    kept = uninstalled_at.is_null() | (installed_at > uninstalled_at)
    deleted = installed_at.is_null() | (uninstalled_at > installed_at)
    return (
        pl.when(installed_at.is_null() & uninstalled_at.is_null())
        .then(None)
        .when(kept)
        .then(pl.lit("kept"))
        .when(deleted)
        .then(pl.lit("deleted"))
    )


def app_ties(customer_totals: pl.LazyFrame) -> pl.LazyFrame:
    """The customers (of the per-customer totals, with installed_at and uninstalled_at) whose
    latest install and uninstall share an instant: customer_id, app_tie_at. Their app_status
    needs the app events at that instant (app_status)."""
    return customer_totals.filter(pl.col("installed_at") == pl.col("uninstalled_at")).select(
        "customer_id", pl.col("installed_at").alias("app_tie_at")
    )


def tie_status(
    events: pl.LazyFrame, customer_totals: pl.LazyFrame, config: ScoringConfig
) -> pl.LazyFrame:
    """Per customer of app_ties: tie_status, the app_status of its app events in `events`
    (which end with the run date), where only the events' ids order the tied install and
    uninstall."""
    tie_events = events.filter(app_event(config)).join(
        app_ties(customer_totals), on="customer_id", how="semi"
    )
    return app_status(tie_events, config).rename({"app_status": "tie_status"})


def app_keeper(app_installer: pl.Expr, app_status: pl.Expr) -> pl.Expr:
    """1 when the customer installed the app in the window and kept it (app_status `kept`)."""
    return flag(app_installer & (app_status == "kept"))


def active(active_days: pl.Expr) -> pl.Expr:
    """1 when the customer was active on a day of the window (active_days > 0), else 0."""
    return flag(active_days > 0)


def stickiness(active_days: pl.Expr, active_customers: pl.Expr, window_days: int) -> pl.Expr:
    """DAU / MAU x 100 = (active customer-days / window days) / active customers x 100."""
    # times the reciprocal, as Polars computes a column / a literal: a frame held as one
    # scalar would divide exactly, and the last bit would depend on the frame's layout
    return percent(active_days.cast(pl.Float64) * (1.0 / window_days), active_customers)


def paying(plan: pl.Expr, paying_plans: Collection[str]) -> pl.Expr:
    """1 when the customer's plan (metrics.plan_column) is one of `paying_plans` or unknown
    (null, or no plan attribute at all), else 0."""
    return flag(plan.is_null() | plan.is_in(paying_plans))


def active_paying(paying: pl.Expr, active: pl.Expr) -> pl.Expr:
    """1 when the customer is paying and active (the activity rate's MAU), else 0."""
    return paying * active


def activity_rate(active_paying: pl.Expr, paying: pl.Expr) -> pl.Expr:
    """Active paying customers (MAU) / paying customers x 100."""
    return percent(active_paying, paying)


def at_period_start(
    first_event_at: pl.Expr, signup_date: pl.Expr, cancelled_before_start: pl.Expr, window: Window
) -> pl.Expr:
    """1 when the customer counts at the start of the period (the churn rate's denominator):
    seen before the window, by an event or its signup date, and not cancelled before it."""
    signup_at = signup_date.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    seen_before_start = pl.min_horizontal(first_event_at, signup_at) < window.start
    return flag(seen_before_start & ~cancelled_before_start)


def lost(at_period_start: pl.Expr, churned: pl.Expr) -> pl.Expr:
    """1 when a customer of the period's start cancelled in the period (churned), else 0."""
    return at_period_start * flag(churned)


def churn_rate(lost: pl.Expr, at_start: pl.Expr) -> pl.Expr:
    """Customers lost in the period / customers at its start x 100. 10 of 100 -> 10."""
    return percent(lost, at_start)


def returning(active_days: pl.Expr) -> pl.Expr:
    """1 when the customer came back: active on 2 or more days of the window, else 0."""
    return flag(active_days >= 2)


def returning_users(returning: pl.Expr, active: pl.Expr) -> pl.Expr:
    """Customers active on 2 or more days / active customers x 100."""
    return percent(returning, active)


def mean_return_days(active_days: pl.Expr, active: pl.Expr) -> pl.Expr:
    """How often active customers come back: mean (active days - 1) over active customers."""
    return ratio(active_days - active, active)
