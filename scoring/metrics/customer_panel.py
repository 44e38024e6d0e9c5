"""The customer panel: one row per scored customer with its score, attributes, the additive
counts of every concept and its metric values, assembled in named steps from the run's
PanelInputs (scoring.metrics.panel_inputs) and its WindowFrames (from the window's events,
event_frames, or from daily aggregates, scoring.metrics.panel_days)."""

from dataclasses import dataclass

import polars as pl

from scoring.engagement import disengaged, engaged, responding, score_change
from scoring.metrics import adoption, campaigns, health, retention, surveys, value, web
from scoring.metrics.panel_inputs import PanelEvents, PanelInputs
from scoring.metrics.panel_metrics import CUSTOMER_VALUES, panel_metrics
from scoring.metrics.segments import (
    SIGNUP_COHORT,
    customer_attributes,
    score_percentile,
    signup_cohort,
)

KEY = "customer_key"
"""The column of the customer panel with each customer's key in the window's frames."""

MISSING_COUNTS: tuple[str, ...] = (
    "csat_responses", "csat_satisfied", "nps_responses", "nps_promoters", "nps_detractors",
    "effort_responses", "page_views", "timed_page_views", "scrolled_page_views", "sessions",
    "session_page_views", "bounced_sessions", "timed_sessions", "email_opens",
    "email_clicks", "impressions", "social_engagements", "conversions",
    "event_registrations", "active_days", "app_installs", "app_uninstalls", "purchases",
    "features_used", "support_tickets", "escalations", "first_week_events",
)  # fmt: skip
"""Counts that are 0 for a customer without such events (null after the joins)."""
MISSING_SUMS: tuple[str, ...] = (
    "effort_total", "page_seconds", "scroll_total", "session_seconds", "revenue", "billing_points",
)  # fmt: skip
"""Sums that are 0.0 for a customer without such events."""
MISSING_FLAGS: tuple[str, ...] = (
    "visited_before", "cancelled_before_start", "churned", "app_installer",
)  # fmt: skip
"""Conditions that are false for a customer without such events."""

SIGNUP_DATE = pl.coalesce("signup_date", "table_signup_date").alias("signup_date")
"""A customer's signup date: that of its first signup event, else the customers table's."""


def customer_signups(inputs: PanelInputs, attributes: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer of the totals, by its key: signup_date (SIGNUP_DATE)."""
    return (
        inputs.totals.select("customer_id", "signup_date")
        .join(attributes.select("customer_id", "table_signup_date"), on="customer_id", how="left")
        .select(inputs.key.alias("customer_id"), SIGNUP_DATE)
    )


@dataclass(frozen=True)
class WindowFrames:
    """What the panel reads of the window besides the totals, by the customers' key (a
    `customer_id` column holding inputs.key) unless said otherwise: the per-customer counts
    (survey, web, active days, features used, first week: frames of customers with such
    events), the feature catalogue size (one row), the app status of the customers whose
    latest install and uninstall tie (retention.tie_status, by text customer_id), the
    customers' attributes (segments.customer_attributes, by text customer_id), the page views
    and exits per customer and page (web.page_counts) and the feature users
    (adoption.feature_users)."""

    counts: tuple[pl.LazyFrame, ...]
    feature_catalogue: pl.LazyFrame
    ties: pl.LazyFrame
    attributes: pl.LazyFrame
    pages: pl.LazyFrame
    feature_users: pl.LazyFrame


def event_frames(inputs: PanelInputs, events: PanelEvents, sessions: pl.LazyFrame) -> WindowFrames:
    """The WindowFrames of the window's events (and, for attributes from event columns and app
    ties, the events known by its end); `sessions`: the window's page sessions
    (web.page_sessions, by the same key)."""
    config, window_events = inputs.config, events.window_events
    attributes = customer_attributes(inputs.customers, events.known, inputs.attribute_sources)
    signups = customer_signups(inputs, attributes)
    return WindowFrames(
        counts=(
            surveys.survey_counts(window_events, config.metric_settings),
            web.web_counts(window_events, sessions, config.metric_settings),
            retention.active_days(window_events, inputs.window, retention.active_event(config)),
            adoption.features_used(window_events, config),
            adoption.first_week_engagement(window_events, signups, config, inputs.run_date),
        ),
        feature_catalogue=adoption.feature_catalogue(window_events, config),
        ties=retention.tie_status(events.known, inputs.totals, config),
        attributes=attributes,
        pages=web.page_counts(window_events, sessions, config.metric_settings),
        feature_users=adoption.feature_users(window_events, config),
    )


def window_columns(inputs: PanelInputs, frames: WindowFrames) -> pl.LazyFrame:
    """Per customer of the totals, in their row order: its KEY, the window's counts, the
    feature catalogue size, the app status of a tie (retention.tie_status) and its
    attributes."""
    # joined to the customer keys alone and put back in the totals' row order, to be set
    # beside them: a join or a sort copies every column of its frame, so the wide totals
    # take part in neither
    keyed = (
        inputs.totals.select("customer_id", inputs.key.alias(KEY))
        .with_row_index("_row")
        .join(frames.feature_catalogue, how="cross")
    )
    for counts in frames.counts:
        keyed = keyed.join(counts, left_on=KEY, right_on="customer_id", how="left")
    for frame in (frames.ties, frames.attributes):
        keyed = keyed.join(frame, on="customer_id", how="left")
    return keyed.sort("_row").drop("_row", "customer_id")


def customer_counts(inputs: PanelInputs, frames: WindowFrames) -> pl.LazyFrame:
    """The customer totals with their window_columns beside them: signup_date, app_status
    (retention.latest_app_status, else the tie's), the derived signup cohort when wanted, and
    every count, sum and condition of a customer without such events set (0, 0.0, false)."""
    totals = inputs.totals.drop("event_count", "last_event_at")
    latest_status = retention.latest_app_status(pl.col("installed_at"), pl.col("uninstalled_at"))
    derived = (
        [signup_cohort(pl.col("signup_date"), pl.col("first_event_at")).alias(SIGNUP_COHORT)]
        if inputs.attribute_sources.get(SIGNUP_COHORT) == "derived"
        else []
    )
    return (
        pl.concat([totals, window_columns(inputs, frames)], how="horizontal")
        .with_columns(SIGNUP_DATE, pl.coalesce(latest_status, "tie_status").alias("app_status"))
        .drop("table_signup_date", "tie_status")
        .with_columns(derived)
        .with_columns(
            *[pl.col(n).fill_null(0) for n in MISSING_COUNTS],
            *[pl.col(n).fill_null(0.0) for n in MISSING_SUMS],
            *[pl.col(n).fill_null(False) for n in MISSING_FLAGS],
        )
    )


def customer_states(inputs: PanelInputs) -> list[pl.Expr]:
    """The additive 0/1 states of a customer row of customer_counts, each defined with its
    concept (engagement index, offline participation, activity, payment, visitors, period
    start, app, purchases, first week), its score as a count and its NPS category."""
    metrics = inputs.config.metric_settings
    found = inputs.attribute_sources
    plan = pl.col(metrics.plan_column) if metrics.plan_column in found else pl.lit(None)
    score, previous, tier = pl.col("score"), pl.col("score_previous"), pl.col("tier")
    active_days = pl.col("active_days")
    period_start = retention.at_period_start(
        pl.col("first_event_at"),
        pl.col("signup_date"),
        pl.col("cancelled_before_start"),
        inputs.window,
    )
    return [
        pl.lit(1, dtype=pl.Int64).alias("customers"),
        score.alias("score_total"),
        engaged(tier).alias("engaged"),
        responding(score, previous).alias("responding"),
        disengaged(tier).alias("disengaged"),
        score_change(score, previous).alias("score_change"),
        campaigns.registered(pl.col("event_registrations")).alias("registered"),
        retention.active(active_days).alias("active"),
        retention.returning(active_days).alias("returning"),
        retention.paying(plan, metrics.paying_plans).alias("paying"),
        *web.visitor_flags(pl.col("page_views"), pl.col("visited_before")),
        period_start.alias("at_period_start"),
        retention.app_keeper(pl.col("app_installer"), pl.col("app_status")).alias("app_keeper"),
        pl.col("app_installer").cast(pl.Int64),
        value.purchaser(pl.col("purchases")).alias("purchaser"),
        *adoption.first_week_counts(pl.col("first_week_score"), pl.col("first_week_active")),
        surveys.nps_category(pl.col("nps_response")).alias("nps_category"),
    ]


def segment_attributes(inputs: PanelInputs) -> list[pl.Expr]:
    """health_segment and segment: the customer's values of the attributes that choose its
    health weights and group its score percentile (null when not found)."""
    metrics = inputs.config.metric_settings

    def attribute(name: str | None) -> pl.Expr:
        if name is None or name not in inputs.attribute_sources:
            return pl.lit(None, dtype=pl.String)
        return pl.col(name)

    return [
        attribute(metrics.health.segment).alias("health_segment"),
        attribute(metrics.percentile_segment).alias("segment"),
    ]


def customer_values(inputs: PanelInputs) -> list[pl.Expr]:
    """From a row's states: visitor_type, active_paying, lost, score_percentile and the
    per-customer values of the panel metrics (CUSTOMER_VALUES)."""
    return [
        web.visitor_type(pl.col("visitor"), pl.col("new_visitor")).alias("visitor_type"),
        retention.active_paying(pl.col("paying"), pl.col("active")).alias("active_paying"),
        retention.lost(pl.col("at_period_start"), pl.col("churned")).alias("lost"),
        score_percentile("segment"),
        *[m.value.alias(m.name) for m in panel_metrics(inputs.config) if m.name in CUSTOMER_VALUES],
    ]


def customer_panel(inputs: PanelInputs, frames: WindowFrames) -> pl.LazyFrame:
    """One row per scored customer, in the totals' order: score and tier, previous-period
    score, attributes, the additive counts and states of every concept, the per-customer
    metric values and health score, and its key in the window's frames as KEY.

    What needs the history comes from the totals; the rest from the window's frames."""
    return customer_rows(inputs, customer_counts(inputs, frames))


def customer_rows(inputs: PanelInputs, counts: pl.LazyFrame) -> pl.LazyFrame:
    """customer_counts rows completed: states, segment attributes, metric values, health.
    The steps over the whole population (score percentiles) are here, so counts computed
    in parts (scale-out buckets) are completed together."""
    return (
        counts.with_columns(*customer_states(inputs), *segment_attributes(inputs))
        .with_columns(customer_values(inputs))
        .with_columns(health.health_components(inputs.config))
        .with_columns(health.health_score(inputs.config))
        .with_columns(health.health_counts(pl.col("health_score")))
    )
