"""The metric panel: every metric per customer (customer_metrics) and per segment
(segment_metrics), assembled from the concept modules.

Each customer row carries additive counts (flags are 0/1); a metric is an expression over
those counts, evaluated once per customer and once over the summed counts of each segment.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from scoring.config import ScoringConfig
from scoring.engagement import (
    OCCURRENCE_DECIMALS,
    Window,
    customer_scores,
    events_in_window,
    occurrence_weight,
    weights_frame,
)
from scoring.events import events_until
from scoring.metrics import adoption, campaigns, health, retention, surveys, value, web
from scoring.metrics.rates import exact_sum, flag, percent, ratio
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


def panel_columns(config: ScoringConfig, available: Iterable[str]) -> list[str]:
    """The event columns the panel reads: the contract's and the wanted attribute columns."""
    wanted = {c.name for c in REQUIRED_EVENT_COLUMNS + OPTIONAL_EVENT_COLUMNS}
    wanted |= set(segment_names(config))
    return [name for name in available if name in wanted]


def resolved_attributes(
    events: pl.LazyFrame, customers: pl.LazyFrame | None, config: ScoringConfig
) -> dict[str, str]:
    """Which wanted attributes exist, and where they come from (see attribute_sources)."""
    table_columns = customers.collect_schema().names() if customers is not None else []
    return attribute_sources(segment_names(config), table_columns, events.collect_schema().names())


def _counts_of(frame: pl.LazyFrame, names: list[str]) -> list[pl.Expr]:
    schema = frame.collect_schema()
    return [pl.col(n).fill_null(0) for n in names if n in schema]


def previous_period_scores(
    events: pl.LazyFrame, config: ScoringConfig, run_date: date
) -> pl.LazyFrame:
    """Per customer with a weighted event in the previous period (the window ending
    `window_days` before the run date): previous_contributions, the sum of its contributions."""
    previous_date = run_date - timedelta(days=config.window_days)
    window = Window.ending_on(previous_date, config.window_days)
    return (
        events_in_window(events, window)
        .join(weights_frame(config), on="event_type", how="inner")
        .group_by("customer_id")
        .agg(
            exact_sum(
                pl.col("weight") * occurrence_weight(config, previous_date), OCCURRENCE_DECIMALS
            ).alias("previous_contributions")
        )
    )


def customer_panel(
    events: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    customers: pl.LazyFrame | None = None,
    scores: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """One row per scored customer: score and tier, previous-period score, attributes, the
    additive counts of every concept and the per-customer metric values.

    `events` are valid events with typed properties (scoring.events.typed_properties, applied
    by validation). `scores` are the run's customer_scores when already computed (recomputed
    otherwise). score_previous is null for customers not seen by the end of the previous
    period, else the sum of their previous-period contributions (0 without any)."""
    metrics = config.metric_settings
    window = Window.ending_on(run_date, config.window_days)
    known = events_until(events, window.end)
    window_events = events_in_window(known, window)
    table = typed_customers(customers) if customers is not None else None
    sources = resolved_attributes(events, table, config)
    previous_end = Window.ending_on(run_date - timedelta(days=config.window_days), 1).end
    previous_score = (
        pl.when(pl.col("first_event_at") < previous_end)
        .then(pl.col("previous_contributions").fill_null(0.0).round(9))
        .alias("score_previous")
    )
    retained = retention.retention_counts(known, window, config)
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
    signups = (
        adoption.signup_dates(known, config)
        .join(attributes, on="customer_id", how="full", coalesce=True)
        .select("customer_id", pl.coalesce("signup_date", "table_signup_date").alias("signup_date"))
    )
    derived = (
        [signup_cohort(pl.col("signup_date"), pl.col("first_event_at")).alias(SIGNUP_COHORT)]
        if sources.get(SIGNUP_COHORT) == "derived"
        else []
    )
    zero_filled = [
        "csat_responses", "csat_satisfied", "nps_responses", "nps_promoters", "nps_detractors",
        "effort_responses", "page_views", "timed_page_views", "scrolled_page_views", "visitor",
        "new_visitor", "sessions", "session_page_views", "bounced_sessions", "timed_sessions",
        "email_opens", "email_clicks", "impressions", "social_engagements", "conversions",
        "event_registrations", "purchases", "features_used", "support_tickets", "escalations",
        "first_week_events",
    ]  # fmt: skip
    zero_sums = ["effort_total", "page_seconds", "scroll_total", "session_seconds", "revenue",
                 "billing_points"]  # fmt: skip
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
    panel = (
        (scores if scores is not None else customer_scores(known, config, run_date))
        .select("customer_id", "score", "tier")
        .join(previous_period_scores(known, config, run_date), on="customer_id", how="left")
        .join(surveys.survey_counts(window_events, metrics), on="customer_id", how="left")
        .join(web.web_counts(known, window, metrics), on="customer_id", how="left")
        .join(campaigns.campaign_counts(window_events, metrics), on="customer_id", how="left")
        .join(retained, on="customer_id", how="left")
        .with_columns(previous_score)
        .join(value.purchase_counts(known, window, metrics), on="customer_id", how="left")
        .join(features, on="customer_id", how="left")
        .join(catalogue, how="cross")
        .join(signups, on="customer_id", how="left")
        .join(
            adoption.first_week_engagement(window_events, signups, config, run_date),
            on="customer_id",
            how="left",
        )
        .join(
            health.support_and_billing_counts(window_events, config), on="customer_id", how="left"
        )
        .join(attributes.drop("table_signup_date"), on="customer_id", how="left")
        .with_columns(derived)
    )
    panel = panel.with_columns(
        *[pl.col(n).fill_null(0) for n in zero_filled],
        *[pl.col(n).fill_null(0.0) for n in zero_sums],
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
            pl.when(pl.col("visitor") == 1)
            .then(
                pl.when(pl.col("new_visitor") == 1)
                .then(pl.lit("new"))
                .otherwise(pl.lit("returning"))
            )
            .alias("visitor_type"),
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
        .pipe(health.health_score, config)
        .with_columns(
            pl.col("health_score").fill_null(0.0).alias("health_total"),
            flag(pl.col("health_score").is_not_null()).alias("health_customers"),
        )
        .sort("customer_id")
    )


def customer_metrics(panel: pl.LazyFrame) -> pl.LazyFrame:
    """The customer_metrics table: the contract's columns of the panel, in order and type."""
    return panel.select(pl.col(column.name).cast(column.dtype) for column in CUSTOMER_METRICS)


@dataclass(frozen=True)
class MetricPanel:
    """The lazy frames of one run's panel: customers (customer_panel), page counts per
    customer and page, feature users, and the segment attributes found."""

    customers: pl.LazyFrame
    pages: pl.LazyFrame
    feature_users: pl.LazyFrame
    segments: tuple[str, ...]


def metric_panel(
    events: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    customers: pl.LazyFrame | None = None,
    scores: pl.LazyFrame | None = None,
) -> MetricPanel:
    """The panel of a run: see customer_panel; segments are the configured ones found in the
    customers table, the event columns or derived (signup_cohort)."""
    window = Window.ending_on(run_date, config.window_days)
    window_events = events_in_window(events, window)
    table = typed_customers(customers) if customers is not None else None
    found = resolved_attributes(events, table, config)
    return MetricPanel(
        customers=customer_panel(events, config, run_date, customers, scores),
        pages=web.page_counts(window_events, config.metric_settings),
        feature_users=adoption.feature_users(window_events, config),
        segments=tuple(s for s in config.metric_settings.segments if s in found),
    )


def _segment_rows(frame: pl.LazyFrame, segment: str) -> pl.LazyFrame:
    return frame.select(
        pl.lit(segment).alias("segment"),
        pl.col(segment).cast(pl.String).alias("segment_value"),
        "metric",
        pl.col("detail").cast(pl.String),
        pl.col("value").cast(pl.Float64),
        pl.col("observations").cast(pl.Int64),
        pl.col("customers").cast(pl.Int64),
    )


def metrics_of_segment(panel: MetricPanel, config: ScoringConfig, segment: str) -> pl.LazyFrame:
    """Every panel metric per value of one segment attribute: the metric's expression over the
    summed counts of the segment's customers, plus median score, tier shares, page views and
    exit rate per page, and adoption per feature."""
    customers = panel.customers
    schema = customers.collect_schema()
    sums = customers.group_by(segment).agg(
        *[
            exact_sum(pl.col(n)).alias(n) if schema[n].is_float() else pl.col(n).sum()
            for n in ADDITIVE_COUNTS
        ],
        pl.col("feature_catalogue").first(),
        pl.col("score").median().alias("score_median"),
    )
    metrics = (
        *panel_metrics(config),
        Metric("score_median", pl.col("score_median"), pl.col("customers")),
    )
    overall = (
        sums.select(
            segment,
            "customers",
            *[
                pl.struct(
                    m.value.cast(pl.Float64).alias("value"),
                    m.observations.cast(pl.Int64).alias("observations"),
                ).alias(m.name)
                for m in metrics
            ],
        )
        .unpivot(index=[segment, "customers"], variable_name="metric", value_name="measure")
        .unnest("measure")
        .with_columns(pl.lit(None, pl.String).alias("detail"))
    )
    sizes = sums.select(segment, "customers", "active")
    page_rows = (
        panel.pages.filter(pl.col("page").is_not_null())
        .join(customers.select("customer_id", segment), on="customer_id")
        .group_by(segment, "page")
        .agg(pl.col("views").sum(), pl.col("exits").sum())
        .join(sizes, on=segment, how="left", nulls_equal=True)
    )
    pages = pl.concat(
        [
            page_rows.select(
                segment,
                "customers",
                pl.lit("page_views").alias("metric"),
                pl.col("page").alias("detail"),
                pl.col("views").cast(pl.Float64).alias("value"),
                pl.col("views").alias("observations"),
            ),
            page_rows.select(
                segment,
                "customers",
                pl.lit("exit_rate").alias("metric"),
                pl.col("page").alias("detail"),
                web.exit_rate(pl.col("exits"), pl.col("views")).alias("value"),
                pl.col("views").alias("observations"),
            ),
        ]
    )
    features = (
        panel.feature_users.join(
            customers.filter(pl.col("active") == 1).select("customer_id", segment), on="customer_id"
        )
        .group_by(segment, "feature")
        .agg(pl.len().alias("users"))
        .join(sizes, on=segment, how="left", nulls_equal=True)
        .select(
            segment,
            "customers",
            pl.lit("feature_adoption").alias("metric"),
            pl.col("feature").alias("detail"),
            adoption.feature_adoption(pl.col("users"), pl.col("active")).alias("value"),
            pl.col("active").alias("observations"),
        )
    )
    return pl.concat(
        [
            _segment_rows(part, segment)
            for part in (overall, tier_shares(customers, segment), pages, features)
        ]
    )


def segment_metrics(panel: MetricPanel, config: ScoringConfig) -> pl.LazyFrame:
    """The segment_metrics table: one row per segment x value x metric (x detail), over the
    whole population (segment `all`) and every segment attribute found."""
    everyone = MetricPanel(
        customers=panel.customers.with_columns(pl.lit(ALL).alias(ALL)),
        pages=panel.pages,
        feature_users=panel.feature_users,
        segments=panel.segments,
    )
    return pl.concat(
        [metrics_of_segment(everyone, config, segment) for segment in (ALL, *panel.segments)]
    ).sort("segment", "segment_value", "metric", "detail", nulls_last=True)
