"""The customer health score: a weighted mean of engagement, satisfaction, support and billing
components, each normalized to 0-100, with weights configurable per segment."""

from collections.abc import Collection

import polars as pl

from scoring.aggregates import of_types
from scoring.config import ScoringConfig
from scoring.metrics.rates import EXACT_DECIMALS, NEVER, flag, total_where

COMPONENTS: tuple[str, ...] = ("engagement", "satisfaction", "support", "billing")


def support_and_billing_totals(
    config: ScoringConfig, present: Collection[str] | None = None
) -> list[pl.Expr]:
    """Aggregations of a customer's event-type totals (scoring.aggregates.EVENT_TYPE_TOTALS,
    holding the `present` event types when known, see of_types): support_tickets,
    escalations and billing_points (the configured billing penalties of the window's billing
    events, summed exactly)."""
    metrics = config.metric_settings
    count = pl.col("count")
    # per billing type: penalty (as Decimal) x its count, so the sum is exact; a type that
    # never occurred adds 0 (and with none, billing_points is the literal 0)
    billing = {t: of_types([t], present) for t in metrics.health.billing_penalties}
    points = [
        pl.lit(penalty).cast(pl.Decimal(38, EXACT_DECIMALS)) * total_where(count, billing[t])
        for t, penalty in metrics.health.billing_penalties.items()
        if not billing[t].meta.eq(NEVER)
    ]
    billing_points = (
        pl.sum_horizontal(pl.lit(0, dtype=pl.Decimal(38, EXACT_DECIMALS)), *points).cast(pl.Float64)
        if points
        else pl.lit(0.0)
    )
    return [
        total_where(count, of_types([metrics.support_ticket_event], present)).alias(
            "support_tickets"
        ),
        total_where(count, of_types([metrics.escalation_event], present)).alias("escalations"),
        billing_points.alias("billing_points"),
    ]


def health_components(config: ScoringConfig) -> list[pl.Expr]:
    """health_engagement, health_satisfaction, health_support, health_billing (0-100) from a
    customer row's score, csat, nps_response, effort_score, support_tickets, escalations and
    billing_points. Satisfaction is the mean of the survey signals present (CSAT %, NPS answer
    x 10, (effort_scale - effort) / (effort_scale - 1) x 100), null when none."""
    metrics = config.metric_settings
    health = metrics.health
    full_score = health.engagement_full_score or config.tier_boundaries.highly_engaged_max
    scale = metrics.effort_scale
    # times reciprocals, as Polars computes a column / a literal (see retention.stickiness)
    effort_ease = (scale - pl.col("effort_score")) * 100.0 * (1.0 / (scale - 1))
    support_lost = health.ticket_penalty * pl.col(
        "support_tickets"
    ) + health.escalation_penalty * pl.col("escalations")
    return [
        (pl.col("score") * 100.0 * (1.0 / full_score)).clip(0.0, 100.0).alias("health_engagement"),
        pl.mean_horizontal(pl.col("csat"), pl.col("nps_response") * 10.0, effort_ease).alias(
            "health_satisfaction"
        ),
        (100.0 - support_lost).clip(0.0, 100.0).alias("health_support"),
        (100.0 - pl.col("billing_points")).clip(0.0, 100.0).alias("health_billing"),
    ]


def health_weight(component: str, config: ScoringConfig) -> pl.Expr:
    """The weight of a component for each customer: that of its value of the `health.segment`
    attribute (`health_segment` column) when the configuration overrides it, else the default."""
    health = config.metric_settings.health
    default = float(getattr(health.weights, component))
    overrides = {value: float(getattr(w, component)) for value, w in health.segment_weights.items()}
    if not overrides:
        return pl.lit(default)
    return pl.col("health_segment").replace_strict(
        overrides, default=default, return_dtype=pl.Float64
    )


def health_score(config: ScoringConfig) -> pl.Expr:
    """health_score = sum of w_c x component_c / sum of w_c, both over the components
    (health_<c> columns) that are not null, with the weights of health_weight; null when no
    weight is left."""
    weights = [health_weight(c, config) for c in COMPONENTS]
    components = [pl.col(f"health_{c}") for c in COMPONENTS]
    weighted = [c.fill_null(0.0) * w for c, w in zip(components, weights, strict=True)]
    used = [
        pl.when(c.is_not_null()).then(w).otherwise(0.0)
        for c, w in zip(components, weights, strict=True)
    ]
    total_weight = pl.sum_horizontal(used)
    return (
        pl.when(total_weight > 0)
        .then(pl.sum_horizontal(weighted) / total_weight)
        .alias("health_score")
    )


def health_counts(health_score: pl.Expr) -> list[pl.Expr]:
    """The additive counts of a customer's health score: health_total (the score, 0 without
    one) and health_customers (1 with a score), whose ratio is a segment's mean health."""
    return [
        health_score.fill_null(0.0).alias("health_total"),
        flag(health_score.is_not_null()).alias("health_customers"),
    ]
