"""Adoption: feature usage and first-week (onboarding) engagement."""

from collections.abc import Collection
from datetime import date, timedelta

import polars as pl

from scoring.aggregates import of_types
from scoring.config import ScoringConfig
from scoring.engagement import Window, weights_frame
from scoring.metrics.rates import exact_sum, flag, percent, ratio, when_possible
from scoring.metrics.retention import active_event


def feature_users(window_events: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """Distinct (customer_id, feature) pairs used in the window (catalogue features only when
    `metrics.features` is set; events without a feature are left out)."""
    metrics = config.metric_settings
    used = (pl.col("event_type") == metrics.feature_event) & pl.col("feature").is_not_null()
    if metrics.features is not None:
        used = used & pl.col("feature").is_in(metrics.features)
    return window_events.filter(used).select("customer_id", "feature").unique()


def features_used(window_events: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """Per customer using a feature in the window: features_used, the distinct features
    (feature_users) it used."""
    return (
        feature_users(window_events, config)
        .group_by("customer_id")
        .agg(pl.len().cast(pl.Int64).alias("features_used"))
    )


def feature_catalogue(window_events: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """One row: feature_catalogue, the size of `metrics.features`, else the distinct features
    used in the window."""
    features = config.metric_settings.features
    if features is not None:
        return pl.LazyFrame({"feature_catalogue": [len(features)]})
    return feature_users(window_events, config).select(
        pl.col("feature").n_unique().cast(pl.Int64).alias("feature_catalogue")
    )


def signup_date(config: ScoringConfig, present: Collection[str] | None = None) -> pl.Expr:
    """Aggregation of a customer's event-type totals (scoring.aggregates.EVENT_TYPE_TOTALS,
    holding the `present` event types when known, see of_types): the UTC date of its first
    signup event (signup_date; null without one)."""
    signup = of_types([config.metric_settings.signup_event], present)
    first = pl.when(signup).then(pl.col("first_event_at")).min().dt.date()
    return when_possible(signup, first, pl.lit(None, dtype=pl.Date)).alias("signup_date")


def first_week_engagement(
    events: pl.LazyFrame,
    signups: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
) -> pl.LazyFrame:
    """Per customer who signed up in the window and whose first week (signup_date and the
    `first_week_days - 1` days after it) is over by the run date: first_week_score (the CES
    formula, sum of weight x count, over the first-week events), first_week_events and
    first_week_active (an active-type event in the first week). Such a first week lies in the
    window, so the window's events are enough."""
    days = config.metric_settings.first_week_days
    signup_start = pl.col("signup_date").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    first_week = (pl.col("occurred_at") >= signup_start) & (
        pl.col("occurred_at") < signup_start + timedelta(days=days)
    )
    return first_week_totals(
        events,
        signups,
        first_week,
        config,
        run_date,
        exact_sum(pl.col("weight")).alias("first_week_score"),
        pl.len().cast(pl.Int64).alias("first_week_events"),
    )


def first_week_totals(
    rows: pl.LazyFrame,
    signups: pl.LazyFrame,
    first_week: pl.Expr,
    config: ScoringConfig,
    run_date: date,
    score: pl.Expr,
    events: pl.Expr,
) -> pl.LazyFrame:
    """first_week_engagement's rows from `rows` (events, or daily event counts) of the
    customers in scope (signed up in the window, first week over by the run date): the rows
    `first_week` keeps, weighted, aggregated to `score` and `events` and the activity."""
    days = config.metric_settings.first_week_days
    window = Window.ending_on(run_date, config.window_days)
    in_scope = signups.filter(
        pl.col("signup_date").is_between(window.start.date(), run_date - timedelta(days=days - 1))
    )
    weighted = (
        rows.join(in_scope, on="customer_id", how="inner")
        .filter(first_week)
        .join(weights_frame(config), on="event_type", how="left")
        .group_by("customer_id")
        .agg(score, events, active_event(config).any().alias("first_week_active"))
    )
    return first_week_rows(in_scope, weighted)


def first_week_rows(in_scope: pl.LazyFrame, weighted: pl.LazyFrame) -> pl.LazyFrame:
    """Every customer in scope with its first-week score, events and activity (`weighted`: the
    customers with first-week events; the others score 0, with no event, inactive)."""
    return (
        in_scope.join(weighted, on="customer_id", how="left")
        .with_columns(
            pl.col("first_week_score").fill_null(0.0).round(9),
            pl.col("first_week_events").fill_null(0),
            pl.col("first_week_active").fill_null(False),
        )
        .select("customer_id", "first_week_score", "first_week_events", "first_week_active")
    )


def first_week_counts(first_week_score: pl.Expr, first_week_active: pl.Expr) -> list[pl.Expr]:
    """The additive first-week counts of a customer (see first_week_engagement):
    first_week_customers (1 with a complete first week in the window), first_week_score_total
    (its first-week score, 0 without) and first_week_active_customers (1 when active in it)."""
    return [
        flag(first_week_score.is_not_null()).alias("first_week_customers"),
        first_week_score.fill_null(0.0).alias("first_week_score_total"),
        flag(first_week_active).alias("first_week_active_customers"),
    ]


def feature_adoption(users: pl.Expr, active: pl.Expr) -> pl.Expr:
    """Per feature: users of the feature / active customers x 100."""
    return percent(users, active)


def feature_adoption_pct(features_used: pl.Expr, catalogue: pl.Expr, customers: pl.Expr) -> pl.Expr:
    """Mean share of the feature catalogue a customer used: features used / (catalogue size x
    customers) x 100 (for one customer: its features used / catalogue size x 100)."""
    return percent(features_used, catalogue * customers)


def mean_first_week_score(total: pl.Expr, customers: pl.Expr) -> pl.Expr:
    """Mean first-week score over the customers with a complete first week."""
    return ratio(total, customers)
