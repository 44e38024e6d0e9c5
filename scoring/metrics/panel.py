"""The metric panel: every metric per customer (customer_metrics) and per segment
(segment_metrics), assembled from the concept modules.

Each customer row carries additive counts (flags are 0/1); a metric is an expression over
those counts, evaluated once per customer and once over the summed counts of each segment.
"""

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date

import polars as pl

from scoring.aggregates import (
    customer_scores_from_totals,
    event_type_totals,
    first_before,
    of_types,
)
from scoring.config import ScoringConfig
from scoring.engagement import (
    SCORE_DECIMALS,
    Window,
    contribution,
    events_in_window,
)
from scoring.events import events_until
from scoring.metrics import adoption, campaigns, health, retention, surveys, value, web
from scoring.metrics.rates import EXACT_DECIMALS, count_of, exact_sum, flag, percent, ratio
from scoring.metrics.segments import (
    ALL,
    SIGNUP_COHORT,
    attribute_sources,
    customer_attributes,
    score_percentile,
    signup_cohort,
    tier_shares,
    typed_customers,
)
from scoring.schema import (
    CUSTOMER_METRICS,
    DISENGAGED_TIERS,
    ENGAGED_TIERS,
    OPTIONAL_EVENT_COLUMNS,
    REQUIRED_EVENT_COLUMNS,
    TIERS,
    UTC_TIMESTAMP,
)

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

CUSTOMER_ID = pl.col("customer_id")
KEY = "customer_key"
"""The column of MetricPanel.customers with each customer's key in the window's frames."""


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

    def returning_visitors(visitors: pl.Expr, new_visitors: pl.Expr) -> pl.Expr:
        return percent(visitors - new_visitors, visitors)

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
        _metric("returning_visitors_pct", returning_visitors, "visitor", "new_visitor",
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


def segment_names(config: ScoringConfig) -> tuple[str, ...]:
    """The attributes wanted: the configured segments, the percentile and health segments and
    the plan column (for the activity rate)."""
    metrics = config.metric_settings
    extra = (metrics.percentile_segment, metrics.health.segment, metrics.plan_column)
    return tuple(dict.fromkeys([*metrics.segments, *(e for e in extra if e is not None)]))


def panel_columns(
    config: ScoringConfig, available: Iterable[str], customer_columns: Iterable[str] = ()
) -> list[str]:
    """The event columns the panel reads: the contract's and the wanted attribute columns
    that the customers table (its `customer_columns`) does not provide."""
    wanted = {c.name for c in REQUIRED_EVENT_COLUMNS + OPTIONAL_EVENT_COLUMNS}
    wanted |= set(segment_names(config)) - set(customer_columns)
    return [name for name in available if name in wanted]


def resolved_attributes(
    events: pl.LazyFrame, customers: pl.LazyFrame | None, config: ScoringConfig
) -> dict[str, str]:
    """Which wanted attributes exist, and where they come from (see attribute_sources)."""
    table_columns = customers.collect_schema().names() if customers is not None else []
    return attribute_sources(segment_names(config), table_columns, events.collect_schema().names())


def panel_events(
    events: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    customers: pl.LazyFrame | None = None,
    app_ties: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """The events metric_panel reads besides the run's customer totals (customer_totals): those
    of the window and, for attributes taken from event columns, the events carrying one; with
    `app_ties` (retention.app_ties of the totals), the app events of those customers at the
    tie's instant.

    Given the totals, metric_panel of these events equals metric_panel of all of them. Without
    attributes from event columns or ties before the window, they are the window's events
    only, so a scan reads just the files (row groups) of the window."""
    window = Window.ending_on(run_date, config.window_days)
    table = typed_customers(customers) if customers is not None else None
    sources = resolved_attributes(events, table, config)
    in_window = pl.col("occurred_at") >= pl.lit(window.start, dtype=UTC_TIMESTAMP)
    carried = [pl.col(name).is_not_null() for name, source in sources.items() if source == "events"]
    read = pl.any_horizontal(in_window, *carried)
    known = events_until(events, window.end)
    kept = known.filter(read)
    if app_ties is None:
        return kept
    at_ties = known.filter(~read & retention.app_event(config))
    tied = at_ties.join(
        app_ties,
        left_on=["customer_id", "occurred_at"],
        right_on=["customer_id", "app_tie_at"],
        how="semi",
    )
    return pl.concat([kept, tied])


def customer_total_aggregations(
    config: ScoringConfig, run_date: date, present: Collection[str] | None = None
) -> list[pl.Expr]:
    """Aggregations of a customer's event-type totals (scoring.aggregates.EVENT_TYPE_TOTALS,
    with the types' `weight`; holding the `present` event types when known, see
    aggregates.of_types): first_event_at, score_previous, visited_before, signup_date, the
    lifecycle counts (retention.lifecycle_totals), the campaign counts, the support and
    billing counts of the window and the CLV lookback's purchases and revenue.

    score_previous is the CES of the previous period, as customer_scores computes it for the
    window ending `window_days` before the run date: null for customers not seen by its end
    (which is where the window starts), else the sum of their rounded per-type contributions
    (0 without any)."""
    metrics = config.metric_settings
    window = Window.ending_on(run_date, config.window_days)
    previous = contribution(pl.col("weight"), pl.col("previous_occurrences"))
    return [
        pl.col("first_event_at").min(),
        pl.when(first_before(window).any())
        .then(exact_sum(previous).round(SCORE_DECIMALS))
        .alias("score_previous"),
        web.visited_before(window, metrics, present).alias("visited_before"),
        adoption.signup_date(config, present),
        *retention.lifecycle_totals(window, config, present),
        *campaigns.campaign_totals(metrics, present),
        *health.support_and_billing_totals(config, present),
        *value.purchase_totals(of_types([metrics.purchase_event], present)),
    ]


def customer_totals(
    totals: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    present: Collection[str] | None = None,
) -> pl.LazyFrame:
    """Per customer seen by the end of the run date, from its event-type totals (holding the
    `present` event types, when known): its scores (scoring.aggregates.
    customer_scores_from_totals) and, in the same group-by, the customer_total_aggregations
    the panel needs from the history. The scoring step computes these with the scores
    (tasks.score.scores.score_events with keep_totals)."""
    return customer_scores_from_totals(
        totals, config, also=customer_total_aggregations(config, run_date, present)
    )


HASHED_CUSTOMER_ID = pl.col("customer_id").hash(seed=20261206)
"""A 64-bit hash of customer_id: the panel's customer key over the window's events when it
tells the run's customers apart (customer_key)."""


def customer_key(customers: pl.LazyFrame, hashed: pl.Expr = HASHED_CUSTOMER_ID) -> pl.LazyFrame:
    """One row: `hashed`, whether the `hashed` customer_id (HASHED_CUSTOMER_ID) tells these
    customers apart, each listed once (the run's customer totals: every customer of the
    window's events is one of them). The panel then groups and joins the window's events on
    it, a fixed-width number hashed and compared far faster than text; else on customer_id."""
    return customers.select((hashed.n_unique() == pl.len()).alias("hashed"))


def keyed_window(events: pl.LazyFrame, window: Window, key: pl.Expr = CUSTOMER_ID) -> pl.LazyFrame:
    """The events of the window with their customer_id replaced by the customer `key`
    (customer_key: HASHED_CUSTOMER_ID or customer_id itself)."""
    return events_in_window(events, window).with_columns(key.alias("customer_id"))


def customer_panel(
    events: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    customers: pl.LazyFrame | None = None,
    totals: pl.LazyFrame | None = None,
    sessions: pl.LazyFrame | None = None,
    key: pl.Expr = CUSTOMER_ID,
) -> pl.LazyFrame:
    """One row per scored customer, in the totals' order: score and tier, previous-period score,
    attributes, the additive counts of every concept and the per-customer metric values, and
    its `key` (customer_key) in the window's frames as KEY.

    `events` are valid events with typed properties (scoring.events.typed_properties, applied
    by validation). `totals` are the run's customer_totals (sorted by customer_id, as
    customer_totals gives them, and so are the rows), when already computed (else computed
    from the events). What needs the history comes from the totals; the other queries read the
    window's events and the few others of panel_events."""
    metrics = config.metric_settings
    window = Window.ending_on(run_date, config.window_days)
    known = events_until(events, window.end)
    window_events = keyed_window(events, window, key)
    if totals is None:
        totals = customer_totals(event_type_totals(known, config, run_date), config, run_date)
    table = typed_customers(customers) if customers is not None else None
    sources = resolved_attributes(events, table, config)
    features = (
        adoption.feature_users(window_events, config)
        .group_by("customer_id")
        .agg(pl.len().cast(pl.Int64).alias("features_used"))
    )
    catalogue = (
        pl.LazyFrame({"feature_catalogue": [len(metrics.features)]})
        if metrics.features is not None
        else adoption.feature_users(window_events, config).select(
            pl.col("feature").n_unique().cast(pl.Int64).alias("feature_catalogue")
        )
    )
    attributes = customer_attributes(table, known, sources)
    signup = pl.coalesce("signup_date", "table_signup_date").alias("signup_date")
    signups = (
        totals.select("customer_id", "signup_date")
        .join(attributes.select("customer_id", "table_signup_date"), on="customer_id", how="left")
        .select(key.alias("customer_id"), signup)
    )
    derived = (
        [signup_cohort(pl.col("signup_date"), pl.col("first_event_at")).alias(SIGNUP_COHORT)]
        if sources.get(SIGNUP_COHORT) == "derived"
        else []
    )
    zero_filled = [
        "csat_responses", "csat_satisfied", "nps_responses", "nps_promoters", "nps_detractors",
        "effort_responses", "page_views", "timed_page_views", "scrolled_page_views", "sessions",
        "session_page_views", "bounced_sessions", "timed_sessions", "email_opens",
        "email_clicks", "impressions", "social_engagements", "conversions",
        "event_registrations", "active_days", "app_installs", "app_uninstalls", "purchases",
        "features_used", "support_tickets", "escalations", "first_week_events",
    ]  # fmt: skip
    zero_sums = ["effort_total", "page_seconds", "scroll_total", "session_seconds", "revenue",
                 "billing_points"]  # fmt: skip
    never = ["visited_before", "cancelled_before_start", "churned", "app_installer"]
    plan = pl.col(metrics.plan_column) if metrics.plan_column in sources else pl.lit(None)
    percentile_segment = (
        metrics.percentile_segment if metrics.percentile_segment in sources else None
    )
    health_segment = (
        pl.col(metrics.health.segment).alias("health_segment")
        if metrics.health.segment in sources
        else pl.lit(None, dtype=pl.String).alias("health_segment")
    )
    signup_start = pl.col("signup_date").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    # the app status of a tie comes from the app events at its instant
    tie_events = known.filter(retention.app_event(config)).join(
        retention.app_ties(totals), on="customer_id", how="semi"
    )
    tie_status = retention.app_status(tie_events, config).rename({"app_status": "tie_status"})
    per_customer = [
        surveys.survey_counts(window_events, metrics),
        web.web_counts(
            window_events,
            web.page_sessions(window_events, metrics) if sessions is None else sessions,
            metrics,
        ),
        retention.active_days(window_events, window, retention.active_event(config)),
        features,
        adoption.first_week_engagement(window_events, signups, config, run_date),
    ]
    # the window's frames joined to the customer keys alone, put back in the totals' row order
    # and set beside them: a join or a sort copies every column of its frame, so the wide
    # totals take part in neither
    window_part = (
        totals.select("customer_id", key.alias(KEY))
        .with_row_index("_row")
        .join(catalogue, how="cross")
    )
    for frame in per_customer:
        window_part = window_part.join(frame, left_on=KEY, right_on="customer_id", how="left")
    for frame in [tie_status, attributes]:
        window_part = window_part.join(frame, on="customer_id", how="left")
    window_part = window_part.sort("_row").drop("_row", "customer_id")
    panel = (
        pl.concat([totals.drop("event_count", "last_event_at"), window_part], how="horizontal")
        .with_columns(
            signup,
            pl.coalesce(
                retention.latest_app_status(pl.col("installed_at"), pl.col("uninstalled_at")),
                pl.col("tie_status"),
            ).alias("app_status"),
        )
        .drop("table_signup_date", "tie_status")
        .with_columns(derived)
        .with_columns(
            *[pl.col(n).fill_null(0) for n in zero_filled],
            *[pl.col(n).fill_null(0.0) for n in zero_sums],
            *[pl.col(n).fill_null(False) for n in never],
        )
    )
    return (
        panel.with_columns(
            pl.lit(1, dtype=pl.Int64).alias("customers"),
            pl.col("score").alias("score_total"),
            flag(pl.col("tier").is_in(ENGAGED_TIERS)).alias("engaged"),
            flag(pl.col("score") > pl.col("score_previous").fill_null(0.0)).alias("responding"),
            flag(pl.col("tier").is_in(DISENGAGED_TIERS)).alias("disengaged"),
            (pl.col("score") - pl.col("score_previous")).round(9).alias("score_change"),
            flag(pl.col("event_registrations") > 0).alias("registered"),
            flag(pl.col("active_days") > 0).alias("active"),
            flag(pl.col("active_days") >= 2).alias("returning"),
            flag(plan.is_null() | plan.is_in(metrics.paying_plans)).alias("paying"),
            *web.visitor_flags(pl.col("page_views"), pl.col("visited_before")),
            (pl.min_horizontal("first_event_at", signup_start) < window.start).alias(
                "_seen_before_start"
            ),
            flag(pl.col("app_installer") & (pl.col("app_status") == "kept")).alias("app_keeper"),
            pl.col("app_installer").cast(pl.Int64),
            flag(pl.col("purchases") > 0).alias("purchaser"),
            flag(pl.col("first_week_score").is_not_null()).alias("first_week_customers"),
            pl.col("first_week_score").fill_null(0.0).alias("first_week_score_total"),
            flag(pl.col("first_week_active")).alias("first_week_active_customers"),
            surveys.nps_category(pl.col("nps_response")).alias("nps_category"),
            health_segment,
            (pl.col(percentile_segment) if percentile_segment else pl.lit(None, pl.String)).alias(
                "segment"
            ),
        )
        .with_columns(
            pl.when(pl.col("visitor") == 1)
            .then(
                pl.when(pl.col("new_visitor") == 1)
                .then(pl.lit("new"))
                .otherwise(pl.lit("returning"))
            )
            .alias("visitor_type"),
            flag(pl.col("_seen_before_start") & ~pl.col("cancelled_before_start")).alias(
                "at_period_start"
            ),
            (pl.col("paying") * pl.col("active")).alias("active_paying"),
        )
        .with_columns(
            (pl.col("at_period_start") * flag(pl.col("churned"))).alias("lost"),
            score_percentile("segment"),
            *[m.value.alias(m.name) for m in panel_metrics(config) if m.name in CUSTOMER_VALUES],
        )
        .with_columns(health.health_components(config))
        .with_columns(health.health_score(config))
        .with_columns(
            pl.col("health_score").fill_null(0.0).alias("health_total"),
            flag(pl.col("health_score").is_not_null()).alias("health_customers"),
        )
    )


def customer_metrics(panel: pl.LazyFrame) -> pl.LazyFrame:
    """The customer_metrics table: the contract's columns of the panel, in order and type."""
    return panel.select(pl.col(column.name).cast(column.dtype) for column in CUSTOMER_METRICS)


@dataclass(frozen=True)
class MetricPanel:
    """The lazy frames of one run's panel: customers (customer_panel), page counts per
    customer and page, feature users (both by the customers' KEY), and the segment attributes
    found."""

    customers: pl.LazyFrame
    pages: pl.LazyFrame
    feature_users: pl.LazyFrame
    segments: tuple[str, ...]


def window_sessions(
    events: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    key: pl.Expr = CUSTOMER_ID,
    valued: Collection[str] | None = None,
) -> pl.LazyFrame:
    """The page sessions (web.page_sessions) of the run's window, by customer `key`;
    `valued`: the property columns holding a value in `events`, when known
    (web.valued_properties)."""
    window = Window.ending_on(run_date, config.window_days)
    return web.page_sessions(keyed_window(events, window, key), config.metric_settings, valued)


def metric_panel(
    events: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    customers: pl.LazyFrame | None = None,
    totals: pl.LazyFrame | None = None,
    sessions: pl.LazyFrame | None = None,
    key: pl.Expr = CUSTOMER_ID,
) -> MetricPanel:
    """The panel of a run: see customer_panel; segments are the configured ones found in the
    customers table, the event columns or derived (signup_cohort). `sessions`: the window's
    page sessions (window_sessions, by the same `key`) when already computed, else computed
    here. `key`: see customer_key; pages and feature users are by that key."""
    window = Window.ending_on(run_date, config.window_days)
    window_events = keyed_window(events, window, key)
    table = typed_customers(customers) if customers is not None else None
    found = resolved_attributes(events, table, config)
    if sessions is None:
        sessions = window_sessions(events, config, run_date, key)
    return MetricPanel(
        customers=customer_panel(events, config, run_date, customers, totals, sessions, key),
        pages=web.page_counts(window_events, sessions, config.metric_settings),
        feature_users=adoption.feature_users(window_events, config),
        segments=tuple(s for s in config.metric_settings.segments if s in found),
    )


SEGMENT_KEY = ("segment", "segment_value")


def by_segment(
    frame: pl.LazyFrame, segments: Iterable[str], keys: Iterable[str], aggregations: list[pl.Expr]
) -> pl.LazyFrame:
    """`frame` (with the customers' segment attribute columns) grouped by each segment
    attribute in turn (`all` first) and `keys`, concatenated: segment, segment_value (the
    attribute's value as text, null when unknown), keys and the aggregations."""
    return pl.concat(
        frame.group_by(
            pl.lit(segment).alias("segment"),
            (pl.lit(ALL) if segment == ALL else pl.col(segment).cast(pl.String)).alias(
                "segment_value"
            ),
            *keys,
        ).agg(aggregations)
        for segment in (ALL, *segments)
    )


def _summed(customers: pl.LazyFrame, segments: tuple[str, ...]) -> pl.LazyFrame:
    """Per segment value: the sum of every additive count over its customers (floats summed
    exactly), the feature catalogue size, the median score and the customers per tier
    (in_<tier>)."""
    schema = customers.collect_schema()
    floats = [n for n in ADDITIVE_COUNTS if schema[n].is_float()]
    # floats as Decimal once per customer, not once per segment (see rates.exact_sum)
    exact = customers.with_columns(pl.col(floats).cast(pl.Decimal(38, EXACT_DECIMALS)))
    sums = by_segment(
        exact,
        segments,
        [],
        [
            *[pl.col(n).sum() for n in ADDITIVE_COUNTS],
            pl.col("feature_catalogue").first(),
            pl.col("score").median().alias("score_median"),
            *[count_of(pl.col("tier") == tier).alias(f"in_{tier}") for tier in TIERS],
        ],
    )
    return sums.with_columns(pl.col(floats).cast(pl.Float64))


def _page_rows(panel: MetricPanel, sizes: pl.LazyFrame) -> pl.LazyFrame:
    """Per segment value and page: page views and exit rate (observations: the views)."""
    pages = panel.pages.join(
        panel.customers.select(KEY, *panel.segments), left_on="customer_id", right_on=KEY
    )
    per_page = by_segment(
        pages, panel.segments, ["page"], [pl.col("views").sum(), pl.col("exits").sum()]
    ).join(sizes, on=SEGMENT_KEY, how="left", nulls_equal=True)
    measures = {
        "page_views": pl.col("views").cast(pl.Float64),
        "exit_rate": web.exit_rate(pl.col("exits"), pl.col("views")),
    }
    return pl.concat(
        per_page.select(
            *SEGMENT_KEY,
            "customers",
            pl.lit(metric).alias("metric"),
            pl.col("page").alias("detail"),
            measure.alias("value"),
            pl.col("views").alias("observations"),
        )
        for metric, measure in measures.items()
    )


def _feature_rows(panel: MetricPanel, sizes: pl.LazyFrame) -> pl.LazyFrame:
    """Per segment value and feature: users among the active customers / active customers."""
    active = panel.customers.filter(pl.col("active") == 1).select(KEY, *panel.segments)
    users = panel.feature_users.join(active, left_on="customer_id", right_on=KEY)
    return (
        by_segment(users, panel.segments, ["feature"], [pl.len().alias("users")])
        .join(sizes, on=SEGMENT_KEY, how="left", nulls_equal=True)
        .select(
            *SEGMENT_KEY,
            "customers",
            pl.lit("feature_adoption").alias("metric"),
            pl.col("feature").alias("detail"),
            adoption.feature_adoption(pl.col("users"), pl.col("active")).alias("value"),
            pl.col("active").alias("observations"),
        )
    )


def _segment_rows(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.select(
        "segment",
        pl.col("segment_value").cast(pl.String),
        "metric",
        pl.col("detail").cast(pl.String),
        pl.col("value").cast(pl.Float64),
        pl.col("observations").cast(pl.Int64),
        pl.col("customers").cast(pl.Int64),
    )


def segment_metrics(panel: MetricPanel, config: ScoringConfig) -> pl.LazyFrame:
    """The segment_metrics table: one row per segment x value x metric (x detail), over the
    whole population (segment `all`) and every segment attribute found.

    Every panel metric is its expression over the summed counts of the segment value's
    customers; plus the median score, tier shares, page views and exit rate per page, and
    adoption per feature."""
    sums = _summed(panel.customers, panel.segments)
    metrics = (
        *panel_metrics(config),
        Metric("score_median", pl.col("score_median"), pl.col("customers")),
    )
    overall = (
        sums.select(
            *SEGMENT_KEY,
            "customers",
            *[
                pl.struct(
                    m.value.cast(pl.Float64).alias("value"),
                    m.observations.cast(pl.Int64).alias("observations"),
                ).alias(m.name)
                for m in metrics
            ],
        )
        .unpivot(index=[*SEGMENT_KEY, "customers"], variable_name="metric", value_name="measure")
        .unnest("measure")
        .with_columns(pl.lit(None, pl.String).alias("detail"))
    )
    sizes = sums.select(*SEGMENT_KEY, "customers", "active")
    parts = (
        overall,
        tier_shares(sums),
        _page_rows(panel, sizes),
        _feature_rows(panel, sizes),
    )
    return pl.concat([_segment_rows(part) for part in parts]).sort(
        "segment", "segment_value", "metric", "detail", nulls_last=True
    )
