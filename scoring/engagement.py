"""The customer engagement score (CES), its per-event-type contributions and tiers.

    CES = sum over event types t of  w_t x n_t

where n_t counts the customer's events of type t whose UTC time falls on the run date or the
`window_days - 1` days before it. Event types without a weight count 0.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from scoring.config import ScoringConfig, TierBoundaries
from scoring.events import events_until
from scoring.metrics.rates import exact_sum, flag
from scoring.schema import DISENGAGED_TIERS, ENGAGED_TIERS, TIERS, UTC_TIMESTAMP

SCORE_DECIMALS = 9
"""Scores are rounded to 1e-9: removes floating-point noise so tier boundaries are exact."""
OCCURRENCE_DECIMALS = 18
"""Decayed occurrences (each at most 1) are summed exactly at 1e-18, far below the 1e-9 of
contributions, so the sum does not depend on the order of addition."""


@dataclass(frozen=True)
class Window:
    """The half-open UTC interval [start, end) of a run date's scoring window."""

    start: datetime
    end: datetime
    run_date: date

    @classmethod
    def ending_on(cls, run_date: date, window_days: int) -> "Window":
        """The `window_days` days ending on `run_date`, run date included."""
        end = datetime.combine(run_date + timedelta(days=1), time(), tzinfo=UTC)
        return cls(start=end - timedelta(days=window_days), end=end, run_date=run_date)


def events_in_window(events: pl.LazyFrame, window: Window) -> pl.LazyFrame:
    """Events with window.start <= occurred_at < window.end."""
    return events_until(events, window.end).filter(
        pl.col("occurred_at") >= pl.lit(window.start, dtype=UTC_TIMESTAMP)
    )


def occurrence_weight(config: ScoringConfig, run_date: date) -> pl.Expr:
    """How much one occurrence counts: see decay_by_age, the age being the whole days between
    the event's UTC date and `run_date`."""
    return decay_by_age(
        (pl.lit(run_date) - pl.col("occurred_at").dt.date()).dt.total_days(), config
    )


def decay_by_age(age_days: pl.Expr, config: ScoringConfig) -> pl.Expr:
    """How much one occurrence of age `age_days` (whole days) counts: 1 without decay; with it,
    0.5 ** (age_days / half_life_days) for the ages of the window (0 to window_days - 1), null
    for any other age.

    The factors are computed once in Python and looked up: Polars' vectorised pow may round
    the last bit differently from one plan or thread schedule to the next, and an exact sum
    (OCCURRENCE_DECIMALS) would carry that bit into the result.
    """
    if config.half_life_days is None:
        return pl.lit(1.0)
    ages = range(config.window_days)
    factors = [0.5 ** (age / config.half_life_days) for age in ages]
    return age_days.replace_strict(list(ages), factors, default=None, return_dtype=pl.Float64())


def weights_frame(config: ScoringConfig) -> pl.LazyFrame:
    """The configured weights as a frame: event_type, weight."""
    return pl.LazyFrame(
        {"event_type": list(config.weights), "weight": list(config.weights.values())},
        schema={"event_type": pl.String, "weight": pl.Float64},
    )


def contribution(weight: pl.Expr, occurrences: pl.Expr) -> pl.Expr:
    """A (customer, event type) contribution: weight x occurrences, rounded to SCORE_DECIMALS."""
    return (weight * occurrences).round(SCORE_DECIMALS)


def contributions(events: pl.LazyFrame, config: ScoringConfig, run_date: date) -> pl.LazyFrame:
    """Per customer and weighted event type: count, weight and contribution = weight x count.

    With decay, contribution = weight x sum of 0.5 ** (age_days / half_life_days); count stays
    the number of occurrences. Rows are sorted by customer_id, event_type.
    """
    window = Window.ending_on(run_date, config.window_days)
    return (
        events_in_window(events, window)
        .join(weights_frame(config), on="event_type", how="inner")
        .with_columns(occurrence_weight(config, run_date).alias("occurrence"))
        .group_by("customer_id", "event_type")
        .agg(
            pl.len().cast(pl.Int64).alias("count"),
            pl.col("weight").first(),
            exact_sum(pl.col("occurrence"), OCCURRENCE_DECIMALS).alias("occurrences"),
        )
        .with_columns(contribution(pl.col("weight"), pl.col("occurrences")).alias("contribution"))
        .select("customer_id", "event_type", "count", "weight", "contribution")
        .sort("customer_id", "event_type")
    )


def tier_of(score: pl.Expr, boundaries: TierBoundaries) -> pl.Expr:
    """The tier of a score: churn_risk (s < 0), very_disengaged (s <= 40), somewhat_engaged
    (s <= 70), highly_engaged (s <= 100), power_user (s > 100), with configurable bounds.

    With `boundaries.quantiles` the tier goes by rank: p = (rank_min(s) - 1) / n, the share of
    the frame's n scores strictly below s; churn_risk when p < churn_risk_below, then
    very_disengaged / somewhat_engaged / highly_engaged while p < their bound, else
    power_user. The expression then spans the frame: apply it to every scored customer at once.
    """
    quantiles = boundaries.quantiles
    if quantiles is not None:
        share_below = (score.rank("min") - 1) / score.count()
        return (
            pl.when(share_below < quantiles.churn_risk_below)
            .then(pl.lit("churn_risk"))
            .when(share_below < quantiles.very_disengaged_max)
            .then(pl.lit("very_disengaged"))
            .when(share_below < quantiles.somewhat_engaged_max)
            .then(pl.lit("somewhat_engaged"))
            .when(share_below < quantiles.highly_engaged_max)
            .then(pl.lit("highly_engaged"))
            .otherwise(pl.lit("power_user"))
        )
    return (
        pl.when(score < boundaries.churn_risk_below)
        .then(pl.lit("churn_risk"))
        .when(score <= boundaries.very_disengaged_max)
        .then(pl.lit("very_disengaged"))
        .when(score <= boundaries.somewhat_engaged_max)
        .then(pl.lit("somewhat_engaged"))
        .when(score <= boundaries.highly_engaged_max)
        .then(pl.lit("highly_engaged"))
        .otherwise(pl.lit("power_user"))
    )


def engaged(tier: pl.Expr) -> pl.Expr:
    """1 for a customer of an engaged tier (somewhat_engaged, highly_engaged, power_user), else
    0: the engagement index's % engaged."""
    return flag(tier.is_in(ENGAGED_TIERS))


def disengaged(tier: pl.Expr) -> pl.Expr:
    """1 for a customer of a disengaged tier (churn_risk, very_disengaged), else 0: the
    engagement index's % disengaged."""
    return flag(tier.is_in(DISENGAGED_TIERS))


def responding(score: pl.Expr, score_previous: pl.Expr) -> pl.Expr:
    """1 when the score rose versus the previous period (a customer not seen then counts from
    0), else 0: the engagement index's % responding to engagement efforts."""
    return flag(score > score_previous.fill_null(0.0))


def score_change(score: pl.Expr, score_previous: pl.Expr) -> pl.Expr:
    """score - score_previous (null when the customer was not seen in the previous period)."""
    return (score - score_previous).round(SCORE_DECIMALS)


def customer_scores(events: pl.LazyFrame, config: ScoringConfig, run_date: date) -> pl.LazyFrame:
    """One row per customer seen at or before the run date: score, tier, event_count,
    last_event_at. A customer with no event in the window scores 0.
    """
    window = Window.ending_on(run_date, config.window_days)
    known = events_until(events, window.end)
    seen = known.group_by("customer_id").agg(pl.col("occurred_at").max().alias("last_event_at"))
    counted = (
        events_in_window(known, window)
        .group_by("customer_id")
        .agg(pl.len().cast(pl.Int64).alias("event_count"))
    )
    scored = (
        contributions(known, config, run_date)
        .group_by("customer_id", maintain_order=True)
        .agg(exact_sum(pl.col("contribution")).alias("score"))
    )
    score = pl.col("score").fill_null(0.0).round(SCORE_DECIMALS)
    return (
        seen.join(scored, on="customer_id", how="left")
        .join(counted, on="customer_id", how="left")
        .with_columns(score.alias("score"), pl.col("event_count").fill_null(0))
        .with_columns(tier_of(pl.col("score"), config.tier_boundaries).alias("tier"))
        .select("customer_id", "score", "tier", "event_count", "last_event_at")
        .sort("customer_id")
    )


def tier_distribution(scores: pl.LazyFrame) -> pl.LazyFrame:
    """Customers per tier, every tier listed (0 where empty), in tier order."""
    tiers = pl.LazyFrame({"tier": list(TIERS), "order": list(range(len(TIERS)))})
    counts = scores.group_by("tier").agg(pl.len().cast(pl.Int64).alias("customers"))
    return (
        tiers.join(counts, on="tier", how="left")
        .with_columns(pl.col("customers").fill_null(0))
        .sort("order")
        .select("tier", "customers")
    )
