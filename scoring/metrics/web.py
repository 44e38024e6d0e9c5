"""Web and app analytics: page views, sessions, bounce, time on page, scroll, exits, visitors.

A session is a (customer_id, session_id) pair with at least one page view in the window:
the page views are grouped once per session (page_sessions), and every web count and the
exit pages come from those groups.
"""

from collections.abc import Collection

import polars as pl

from scoring.aggregates import first_before, of_types
from scoring.config import MetricsConfig
from scoring.engagement import Window
from scoring.metrics.rates import (
    EXACT_DECIMALS,
    aggregated,
    count_of,
    decimal_sum,
    flag,
    percent,
    ratio,
    total_where,
    when_possible,
)
from scoring.schema import OPTIONAL_EVENT_COLUMNS

SESSION = ("customer_id", "session_id")
SESSION_HASH = pl.col("customer_id").hash(seed=20261206) ^ pl.col("session_id").hash(seed=7)
"""A 64-bit hash of a SESSION pair (customer_id: the text id or its hashed key)."""


def page_sessions(
    window_events: pl.LazyFrame, config: MetricsConfig, valued: Collection[str] | None = None
) -> pl.LazyFrame:
    """The window's page views per customer and session_id (a null session_id: the customer's
    page views outside any session): views, timed (views with a duration_s), seconds (their
    exact sum, Decimal), scrolled (views with a scroll_pct), scroll (their exact sum) and
    exit_page (the page of the last view; ties on time broken by event_id).

    `valued`: the property columns that hold a value in these events, when known (see
    valued_properties); the aggregations of one that does not are constants (0 views timed,
    no exit page) set after the group-by, not a pass over every session's views."""

    def of(name: str, aggregation: pl.Expr, constant: pl.Expr) -> pl.Expr:
        return aggregation if valued is None or name in valued else constant

    duration, scroll, page = pl.col("duration_s"), pl.col("scroll_pct"), pl.col("page")
    none, no_sum = pl.lit(0, dtype=pl.Int64), pl.lit(0, dtype=pl.Decimal(38, EXACT_DECIMALS))
    return aggregated(
        window_events.filter(pl.col("event_type") == config.page_view_event).group_by(*SESSION),
        [
            pl.len().cast(pl.Int64).alias("views"),
            of("duration_s", duration.count().cast(pl.Int64), none).alias("timed"),
            of("duration_s", decimal_sum(duration), no_sum).alias("seconds"),
            of("scroll_pct", scroll.count().cast(pl.Int64), none).alias("scrolled"),
            of("scroll_pct", decimal_sum(scroll), no_sum).alias("scroll"),
            of(
                "page",
                page.sort_by("occurred_at", "event_id").last(),
                pl.lit(None, dtype=pl.String),
            ).alias("exit_page"),
        ],
    ).select(*SESSION, "views", "timed", "seconds", "scrolled", "scroll", "exit_page")


def valued_properties(events: pl.LazyFrame) -> frozenset[str]:
    """The optional property columns (schema.OPTIONAL_EVENT_COLUMNS) that hold at least one
    value in `events` (cheap on events in memory: Polars keeps null counts)."""
    names = [c.name for c in OPTIONAL_EVENT_COLUMNS if c.name in events.collect_schema()]
    counts = events.select(pl.col(names).is_not_null().any()).collect().row(0, named=True)
    return frozenset(name for name, has_value in counts.items() if has_value)


def single_view() -> pl.Expr:
    """Over page_sessions rows: a session (with a session_id) of exactly one page view, the
    sessions that bounce unless they had an interaction."""
    return pl.col("session_id").is_not_null() & (pl.col("views") == 1)


def single_view_interactions(
    window_events: pl.LazyFrame, sessions: pl.LazyFrame, config: MetricsConfig
) -> pl.LazyFrame:
    """Per customer: interacted_single_sessions, how many of its sessions (page_sessions with a
    session_id) with exactly one page view had an interaction (an event of the session other
    than page views and the session start): those did not bounce."""
    single = sessions.filter(single_view()).select(SESSION)
    interaction = ~pl.col("event_type").is_in([config.page_view_event, config.session_start_event])
    return (
        window_events.filter(interaction & pl.col("session_id").is_not_null())
        .select(SESSION)
        # first by one 64-bit number per session (far faster to join than the text pair),
        # then exactly on the few rows left: a collision of the hashes counts no session
        .join(single, left_on=SESSION_HASH, right_on=SESSION_HASH, how="semi")
        .join(single, on=SESSION, how="semi")
        .unique()
        .group_by("customer_id")
        .agg(pl.len().cast(pl.Int64).alias("interacted_single_sessions"))
    )


def web_counts(
    window_events: pl.LazyFrame, sessions: pl.LazyFrame, config: MetricsConfig
) -> pl.LazyFrame:
    """Per customer with a page view in the window (from its page_sessions): page_views,
    timed_page_views, page_seconds, scrolled_page_views, scroll_total and over its sessions
    (those with a session_id): sessions, session_page_views, bounced_sessions (one page view
    and no interaction), timed_sessions and session_seconds (the sum of the durations of the
    timed sessions)."""
    in_session = pl.col("session_id").is_not_null()
    return (
        sessions.group_by("customer_id")
        .agg(
            pl.col("views").sum().alias("page_views"),
            pl.col("timed").sum().alias("timed_page_views"),
            pl.col("seconds").sum().cast(pl.Float64).alias("page_seconds"),
            pl.col("scrolled").sum().alias("scrolled_page_views"),
            pl.col("scroll").sum().cast(pl.Float64).alias("scroll_total"),
            in_session.sum().cast(pl.Int64).alias("sessions"),
            total_where(pl.col("views"), in_session).alias("session_page_views"),
            count_of(single_view()).alias("single_sessions"),
            count_of(in_session & (pl.col("timed") > 0)).alias("timed_sessions"),
            pl.when(in_session)
            .then(pl.col("seconds"))
            .sum()
            .cast(pl.Float64)
            .alias("session_seconds"),
        )
        .join(
            single_view_interactions(window_events, sessions, config),
            on="customer_id",
            how="left",
        )
        .with_columns(
            (pl.col("single_sessions") - pl.col("interacted_single_sessions").fill_null(0)).alias(
                "bounced_sessions"
            )
        )
        .drop("single_sessions", "interacted_single_sessions")
    )


def visited_before(
    window: Window, config: MetricsConfig, present: Collection[str] | None = None
) -> pl.Expr:
    """Aggregation of a customer's event-type totals (holding the `present` event types when
    known, see of_types): whether it viewed a page before the window (a visitor of the window
    is new without one)."""
    page_view = of_types([config.page_view_event], present)
    return when_possible(page_view, (page_view & first_before(window)).any(), pl.lit(False))


def visitor_flags(page_views: pl.Expr, seen_before: pl.Expr) -> list[pl.Expr]:
    """visitor (1 when the customer viewed a page in the window) and new_visitor (1 when that
    was its first page view ever)."""
    visited = page_views > 0
    return [
        flag(visited).alias("visitor"),
        flag(visited & ~seen_before.fill_null(False)).alias("new_visitor"),
    ]


def visitor_type(visitor: pl.Expr, new_visitor: pl.Expr) -> pl.Expr:
    """`new` for a new visitor of the window, `returning` for another visitor, null for a
    customer without a page view in the window (see visitor_flags)."""
    return pl.when(visitor == 1).then(
        pl.when(new_visitor == 1).then(pl.lit("new")).otherwise(pl.lit("returning"))
    )


def returning_visitors_pct(visitors: pl.Expr, new_visitors: pl.Expr) -> pl.Expr:
    """Returning visitors (visitors of the window who viewed a page before it) / visitors x
    100."""
    return percent(visitors - new_visitors, visitors)


def page_counts(
    window_events: pl.LazyFrame, sessions: pl.LazyFrame, config: MetricsConfig
) -> pl.LazyFrame:
    """Per customer and page (page views without a page are left out): views (page views in
    the window) and exits (sessions of page_sessions whose last page view was of the page)."""
    exits = (
        sessions.filter(pl.col("session_id").is_not_null() & pl.col("exit_page").is_not_null())
        .group_by("customer_id", pl.col("exit_page").alias("page"))
        .agg(pl.len().cast(pl.Int64).alias("exits"))
    )
    return (
        window_events.filter(
            (pl.col("event_type") == config.page_view_event) & pl.col("page").is_not_null()
        )
        .group_by("customer_id", "page")
        .agg(pl.len().cast(pl.Int64).alias("views"))
        .join(exits, on=["customer_id", "page"], how="left")
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
