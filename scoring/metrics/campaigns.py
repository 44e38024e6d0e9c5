"""Marketing and community: email CTR, social engagement rate, conversions, offline events."""

import polars as pl

from scoring.config import MetricsConfig
from scoring.metrics.rates import percent, total_where


def campaign_totals(config: MetricsConfig) -> list[pl.Expr]:
    """Aggregations of a customer's event-type totals (scoring.aggregates.EVENT_TYPE_TOTALS):
    email_opens, email_clicks, impressions, social_engagements, conversions and
    event_registrations in the window."""
    event_type = pl.col("event_type")
    counted = {
        "email_opens": event_type == config.email_open_event,
        "email_clicks": event_type == config.email_click_event,
        "impressions": event_type == config.impression_event,
        "social_engagements": event_type == config.social_engagement_event,
        "conversions": event_type.is_in(config.conversion_events),
        "event_registrations": event_type == config.offline_event,
    }
    return [total_where(pl.col("count"), condition).alias(n) for n, condition in counted.items()]


def click_through_rate(clicks: pl.Expr, opens: pl.Expr) -> pl.Expr:
    """CTR = clicks / opens x 100. 50 clicks of 200 opens -> 25. Not capped: clicks whose
    open was not tracked can make it exceed 100."""
    return percent(clicks, opens)


def social_engagement_rate(engagements: pl.Expr, impressions: pl.Expr) -> pl.Expr:
    """Engagements (likes, shares, saves, comments, mentions) / impressions x 100."""
    return percent(engagements, impressions)


def conversion_rate(conversions: pl.Expr, sessions: pl.Expr) -> pl.Expr:
    """Conversions / sessions (visits) in the window x 100."""
    return percent(conversions, sessions)
