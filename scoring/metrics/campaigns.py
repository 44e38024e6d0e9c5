"""Marketing and community: email CTR, social engagement rate, conversions, offline events."""

from collections.abc import Collection

import polars as pl

from scoring.aggregates import of_types
from scoring.config import MetricsConfig
from scoring.metrics.rates import flag, percent, total_where


def campaign_totals(config: MetricsConfig, present: Collection[str] | None = None) -> list[pl.Expr]:
    """Aggregations of a customer's event-type totals (scoring.aggregates.EVENT_TYPE_TOTALS,
    holding the `present` event types when known, see of_types): email_opens, email_clicks,
    impressions, social_engagements, conversions and event_registrations in the window."""
    counted = {
        "email_opens": of_types([config.email_open_event], present),
        "email_clicks": of_types([config.email_click_event], present),
        "impressions": of_types([config.impression_event], present),
        "social_engagements": of_types([config.social_engagement_event], present),
        "conversions": of_types(config.conversion_events, present),
        "event_registrations": of_types([config.offline_event], present),
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


def registered(event_registrations: pl.Expr) -> pl.Expr:
    """1 when the customer registered to an offline event in the window (offline
    participation), else 0."""
    return flag(event_registrations > 0)
