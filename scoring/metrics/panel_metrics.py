"""Every metric of the panel as an expression over additive per-customer counts: evaluated
once per customer (customer_metrics) and once over the summed counts of each segment value
(segment_metrics), so a segment's metric equals that of its customers' events together."""

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from scoring.config import ScoringConfig
from scoring.metrics import adoption, campaigns, retention, surveys, value, web
from scoring.metrics.rates import percent, ratio

ADDITIVE_COUNTS: tuple[str, ...] = (
    "customers", "score_total", "engaged", "responding", "disengaged",
    "csat_responses", "csat_satisfied", "nps_responses", "nps_promoters", "nps_detractors",
    "effort_responses", "effort_total",
    "page_views", "timed_page_views", "page_seconds", "scrolled_page_views", "scroll_total",
    "visitor", "new_visitor", "sessions", "session_page_views", "bounced_sessions",
    "timed_sessions", "session_seconds",
    "email_opens", "email_clicks", "impressions", "social_engagements", "conversions",
    "event_registrations", "registered",
    "active", "active_days", "returning", "paying", "active_paying", "at_period_start", "lost",
    "app_installs", "app_uninstalls", "app_installer", "app_keeper",
    "purchases", "revenue", "purchaser",
    "first_week_customers", "first_week_score_total", "first_week_active_customers",
    "features_used", "support_tickets", "escalations", "health_total", "health_customers",
)  # fmt: skip
"""Per-customer counts that add up over customers (segments sum them)."""


@dataclass(frozen=True)
class Metric:
    """A panel metric: its value and the count it rests on, as expressions over counts."""

    name: str
    value: pl.Expr
    observations: pl.Expr


def _metric(name: str, formula: Callable[..., pl.Expr], *counts: str, over: str = "") -> Metric:
    """A metric whose value is `formula` of the named counts, resting on the count `over`
    (by default the last one)."""
    return Metric(name, formula(*(pl.col(c) for c in counts)), pl.col(over or counts[-1]))


def _as_value(count: pl.Expr) -> pl.Expr:
    """A count (or sum) reported as it is."""
    return count.cast(pl.Float64)


def panel_metrics(config: ScoringConfig) -> tuple[Metric, ...]:
    """Every metric of the panel over additive counts (per customer or summed per segment)."""
    metrics = config.metric_settings

    def stickiness(active_days: pl.Expr, active: pl.Expr) -> pl.Expr:
        return retention.stickiness(active_days, active, config.window_days)

    def clv(revenue: pl.Expr, purchases: pl.Expr, purchasers: pl.Expr) -> pl.Expr:
        return value.customer_lifetime_value(revenue, purchases, purchasers, metrics)

    return (
        _metric("score_mean", ratio, "score_total", "customers"),
        _metric("engaged_pct", percent, "engaged", "customers"),
        _metric("responding_pct", percent, "responding", "customers"),
        _metric("disengaged_pct", percent, "disengaged", "customers"),
        _metric("csat", surveys.csat, "csat_satisfied", "csat_responses"),
        _metric("nps", surveys.nps, "nps_promoters", "nps_detractors", "nps_responses"),
        _metric("effort_score", surveys.effort_score, "effort_total", "effort_responses"),
        _metric("page_views", _as_value, "page_views"),
        _metric("pages_per_session", web.pages_per_session, "session_page_views", "sessions"),
        _metric("avg_time_on_page_s", web.mean_of, "page_seconds", "timed_page_views"),
        _metric("avg_session_duration_s", web.mean_of, "session_seconds", "timed_sessions"),
        _metric("bounce_rate", web.bounce_rate, "bounced_sessions", "sessions"),
        _metric("scroll_depth", web.mean_of, "scroll_total", "scrolled_page_views"),
        _metric("unique_visitors", _as_value, "visitor"),
        _metric("new_visitors_pct", percent, "new_visitor", "visitor"),
        _metric("returning_visitors_pct", web.returning_visitors_pct, "visitor", "new_visitor",
                over="visitor"),
        _metric("ctr", campaigns.click_through_rate, "email_clicks", "email_opens"),
        _metric("social_engagement_rate", campaigns.social_engagement_rate, "social_engagements",
                "impressions"),
        _metric("conversion_rate", campaigns.conversion_rate, "conversions", "sessions"),
        _metric("event_registrations", _as_value, "event_registrations"),
        _metric("offline_participation_pct", percent, "registered", "customers"),
        _metric("stickiness", stickiness, "active_days", "active"),
        _metric("activity_rate", retention.activity_rate, "active_paying", "paying"),
        _metric("churn_rate", retention.churn_rate, "lost", "at_period_start"),
        _metric("returning_users_pct", retention.returning_users, "returning", "active"),
        _metric("mean_return_days", retention.mean_return_days, "active_days", "active"),
        _metric("app_installs", _as_value, "app_installs"),
        _metric("app_uninstalls", _as_value, "app_uninstalls"),
        _metric("app_keep_pct", percent, "app_keeper", "app_installer"),
        _metric("revenue", _as_value, "revenue", over="purchases"),
        _metric("average_order_value", value.average_order_value, "revenue", "purchases"),
        _metric("clv", clv, "revenue", "purchases", "purchaser"),
        _metric("first_week_score", adoption.mean_first_week_score, "first_week_score_total",
                "first_week_customers"),
        _metric("first_week_active_pct", percent, "first_week_active_customers",
                "first_week_customers"),
        _metric("feature_adoption_pct", adoption.feature_adoption_pct, "features_used",
                "feature_catalogue", "customers"),
        _metric("support_tickets", _as_value, "support_tickets"),
        _metric("escalations", _as_value, "escalations"),
        _metric("health_score", ratio, "health_total", "health_customers"),
    )  # fmt: skip


CUSTOMER_VALUES: tuple[str, ...] = (
    "csat", "nps", "effort_score", "pages_per_session", "avg_time_on_page_s",
    "avg_session_duration_s", "bounce_rate", "scroll_depth", "ctr", "social_engagement_rate",
    "conversion_rate", "stickiness", "average_order_value", "clv", "feature_adoption_pct",
)  # fmt: skip
"""Panel metrics that are also a column of customer_metrics (same formula, one customer)."""
