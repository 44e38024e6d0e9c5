"""Web and app analytics: page views, sessions, bounce, time on page, scroll, exits, visitors.

A session is a (customer_id, session_id) pair with at least one page view in the window.
"""

import polars as pl

from scoring.aggregates import first_before
from scoring.config import MetricsConfig
from scoring.engagement import Window
from scoring.metrics.rates import count_of, exact_sum, flag, percent, ratio, sum_where

SESSION = ("customer_id", "session_id")


def session_summaries(window_events: pl.LazyFrame, config: MetricsConfig) -> pl.LazyFrame:
    """One row per session: page_views, interactions (events of the session other than page
    views and the session start), seconds (sum of the page views' duration_s, null when none
    has one) and bounced (exactly one page view and no other interaction)."""
    page_view = pl.col("event_type") == config.page_view_event
    interaction = ~pl.col("event_type").is_in([config.page_view_event, config.session_start_event])
    timed = page_view & pl.col("duration_s").is_not_null()
    return (
        window_events.filter(pl.col("session_id").is_not_null())
        .group_by(*SESSION)
        .agg(
            count_of(page_view).alias("page_views"),
            count_of(interaction).alias("interactions"),
            count_of(timed).alias("timed"),
            sum_where(pl.col("duration_s"), timed).alias("seconds"),
        )
        .filter(pl.col("page_views") > 0)
        .with_columns(
            pl.when(pl.col("timed") > 0).then(pl.col("seconds")).alias("seconds"),
            ((pl.col("page_views") == 1) & (pl.col("interactions") == 0)).alias("bounced"),
        )
        .drop("timed")
    )


def session_counts(window_events: pl.LazyFrame, config: MetricsConfig) -> pl.LazyFrame:
    """Per customer with a session in the window: sessions, session_page_views,
    bounced_sessions, timed_sessions and session_seconds (from session_summaries)."""
    return (
        session_summaries(window_events, config)
        .group_by("customer_id")
        .agg(
            pl.len().cast(pl.Int64).alias("sessions"),
            pl.col("page_views").sum().alias("session_page_views"),
            count_of(pl.col("bounced")).alias("bounced_sessions"),
            count_of(pl.col("seconds").is_not_null()).alias("timed_sessions"),
            exact_sum(pl.col("seconds")).alias("session_seconds"),
        )
    )


def page_view_counts(window_events: pl.LazyFrame, config: MetricsConfig) -> pl.LazyFrame:
    """Per customer with a page view in the window: page_views, timed_page_views,
    page_seconds, scrolled_page_views and scroll_total."""
    duration, scroll = pl.col("duration_s"), pl.col("scroll_pct")
    return (
        window_events.filter(pl.col("event_type") == config.page_view_event)
        .group_by("customer_id")
        .agg(
            pl.len().cast(pl.Int64).alias("page_views"),
            count_of(duration.is_not_null()).alias("timed_page_views"),
            exact_sum(duration).alias("page_seconds"),
            count_of(scroll.is_not_null()).alias("scrolled_page_views"),
            exact_sum(scroll).alias("scroll_total"),
        )
    )


def visited_before(window: Window, config: MetricsConfig) -> pl.Expr:
    """Aggregation of a customer's event-type totals: whether it viewed a page before the
    window (a visitor of the window is new without one)."""
    return ((pl.col("event_type") == config.page_view_event) & first_before(window)).any()


def visitor_flags(page_views: pl.Expr, seen_before: pl.Expr) -> list[pl.Expr]:
    """visitor (1 when the customer viewed a page in the window) and new_visitor (1 when that
    was its first page view ever)."""
    visited = page_views > 0
    return [
        flag(visited).alias("visitor"),
        flag(visited & ~seen_before.fill_null(False)).alias("new_visitor"),
    ]


def page_counts(window_events: pl.LazyFrame, config: MetricsConfig) -> pl.LazyFrame:
    """Per customer and page: views (page views in the window) and exits (views that were
    the last page view of their session; ties on time broken by event_id)."""
    page_views = window_events.filter(pl.col("event_type") == config.page_view_event)
    exits = (
        page_views.filter(pl.col("session_id").is_not_null())
        .group_by(*SESSION)
        .agg(pl.col("page").sort_by("occurred_at", "event_id").last())
        .group_by("customer_id", "page")
        .agg(pl.len().cast(pl.Int64).alias("exits"))
    )
    return (
        page_views.group_by("customer_id", "page")
        .agg(pl.len().cast(pl.Int64).alias("views"))
        .join(exits, on=["customer_id", "page"], how="left", nulls_equal=True)
        .with_columns(pl.col("exits").fill_null(0))
    )


def pages_per_session(session_page_views: pl.Expr, sessions: pl.Expr) -> pl.Expr:
    """Page views in sessions / sessions."""
    return ratio(session_page_views, sessions)


def bounce_rate(bounced: pl.Expr, sessions: pl.Expr) -> pl.Expr:
    """Single-page sessions without further interaction / sessions x 100."""
    return percent(bounced, sessions)


def mean_of(total: pl.Expr, count: pl.Expr) -> pl.Expr:
    """A mean from its sum and count (time on page, session duration, scroll depth)."""
    return ratio(total, count)


def exit_rate(exits: pl.Expr, views: pl.Expr) -> pl.Expr:
    """Per page: exits / views x 100."""
    return percent(exits, views)
