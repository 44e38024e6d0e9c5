"""The customer health score: a weighted mean of engagement, satisfaction, support and billing
components, each normalized to 0-100, with weights configurable per segment."""

import polars as pl

from scoring.config import HealthWeights, ScoringConfig
from scoring.metrics.rates import EXACT_DECIMALS, total_where

COMPONENTS: tuple[str, ...] = ("engagement", "satisfaction", "support", "billing")


def support_and_billing_totals(config: ScoringConfig) -> list[pl.Expr]:
    """Aggregations of a customer's event-type totals (scoring.aggregates.EVENT_TYPE_TOTALS):
    support_tickets, escalations and billing_points (the configured billing penalties of the
    window's billing events, summed exactly)."""
    metrics = config.metric_settings
    event_type, count = pl.col("event_type"), pl.col("count")
    # per billing type: penalty (as Decimal) x its count, so the sum is exact
    points = [
        pl.lit(penalty).cast(pl.Decimal(38, EXACT_DECIMALS)) * total_where(count, event_type == t)
        for t, penalty in metrics.health.billing_penalties.items()
    ]
    return [
        total_where(count, event_type == metrics.support_ticket_event).alias("support_tickets"),
        total_where(count, event_type == metrics.escalation_event).alias("escalations"),
        pl.sum_horizontal(pl.lit(0, dtype=pl.Decimal(38, EXACT_DECIMALS)), *points)
        .cast(pl.Float64)
        .alias("billing_points"),
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
    effort_ease = (scale - pl.col("effort_score")) * 100.0 / (scale - 1)
    support_lost = health.ticket_penalty * pl.col(
        "support_tickets"
    ) + health.escalation_penalty * pl.col("escalations")
    return [
        (pl.col("score") * 100.0 / full_score).clip(0.0, 100.0).alias("health_engagement"),
        pl.mean_horizontal(pl.col("csat"), pl.col("nps_response") * 10.0, effort_ease).alias(
            "health_satisfaction"
        ),
        (100.0 - support_lost).clip(0.0, 100.0).alias("health_support"),
        (100.0 - pl.col("billing_points")).clip(0.0, 100.0).alias("health_billing"),
    ]


def health_weights(config: ScoringConfig) -> pl.LazyFrame:
    """The per-segment weight overrides: health_segment, weight_engagement, ... (may be empty)."""
    overrides = config.metric_settings.health.segment_weights
    return pl.LazyFrame(
        {
            "health_segment": list(overrides),
            **{f"weight_{c}": [getattr(w, c) for w in overrides.values()] for c in COMPONENTS},
        },
        schema={"health_segment": pl.String, **{f"weight_{c}": pl.Float64 for c in COMPONENTS}},
    )


def health_score(customers: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """The customers with health_score = sum of w_c x component_c / sum of w_c, both over the
    components that are not null; the weights are those of the customer's value of the
    `health.segment` attribute (`health_segment` column) or the default ones."""
    default: HealthWeights = config.metric_settings.health.weights
    weights = [pl.col(f"weight_{c}").fill_null(getattr(default, c)) for c in COMPONENTS]
    present = [pl.col(f"health_{c}").is_not_null() for c in COMPONENTS]
    weighted = [
        pl.col(f"health_{c}").fill_null(0.0) * w for c, w in zip(COMPONENTS, weights, strict=True)
    ]
    weight_used = [pl.when(p).then(w).otherwise(0.0) for p, w in zip(present, weights, strict=True)]
    total_weight = pl.sum_horizontal(weight_used)
    return (
        customers.join(health_weights(config), on="health_segment", how="left")
        .with_columns(
            pl.when(total_weight > 0)
            .then(pl.sum_horizontal(weighted) / total_weight)
            .alias("health_score")
        )
        .drop(f"weight_{c}" for c in COMPONENTS)
    )
