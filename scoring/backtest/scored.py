"""Point-in-time scores and tiers of every observation under the compared weight sets (current,
suggested, uniform), each with its own window, half-life and tier boundaries, from one pass of
scoring.backtest.features over the daily counts. With rank-based tiers (TierQuantiles) the ranks
are taken among the observations of each date."""

from collections.abc import Mapping, Sequence
from datetime import date

import polars as pl

from scoring.backtest.features import KEYS, Setting, features_over, scores_of
from scoring.backtest.observations import OBSERVATION_DATE
from scoring.config import ScoringConfig
from scoring.engagement import tier_of

OBSERVATION_COLUMNS = [
    "weights",
    OBSERVATION_DATE,
    "period",
    "customer_id",
    "score",
    "tier",
    "churned",
]


def weight_set_scores(
    daily: pl.LazyFrame,
    observations: pl.LazyFrame,
    configs: Mapping[str, ScoringConfig],
    dates: Sequence[date],
) -> pl.LazyFrame:
    """Per weight set (name -> configuration) and observation (observation_date, period,
    customer_id, churned): its score as of the observation date. Columns: weights,
    observation_date, period, customer_id, score, churned; sorted."""
    settings = sorted({Setting.of(config) for config in configs.values()}, key=str)
    features = features_over(daily, observations.select(KEYS), settings, dates)
    scorers = [(settings.index(Setting.of(c)), dict(c.weights)) for c in configs.values()]
    names = list(configs)
    return (
        scores_of(observations, features, scorers)
        .unpivot(
            index=[OBSERVATION_DATE, "period", "customer_id", "churned"],
            on=[f"score_{k}" for k in range(len(names))],
            variable_name="weights",
            value_name="score",
        )
        .with_columns(
            pl.col("weights").replace_strict(
                [f"score_{k}" for k in range(len(names))], names, return_dtype=pl.String
            )
        )
        .select("weights", OBSERVATION_DATE, "period", "customer_id", "score", "churned")
        .sort("weights", OBSERVATION_DATE, "customer_id")
    )


def with_tiers(scored: pl.LazyFrame, configs: Mapping[str, ScoringConfig]) -> pl.LazyFrame:
    """The scored observations with each weight set's tier (its configuration's boundaries;
    ranks per weight set and date). Columns: OBSERVATION_COLUMNS."""
    tiers = [
        scored.filter(pl.col("weights") == name).with_columns(
            tier_of(pl.col("score"), config.tier_boundaries).over(OBSERVATION_DATE).alias("tier")
        )
        for name, config in configs.items()
    ]
    return pl.concat(tiers).select(OBSERVATION_COLUMNS)


def scores_before(
    daily: pl.LazyFrame,
    observations: pl.LazyFrame,
    config: ScoringConfig,
    dates: Sequence[date],
    days_before: int,
    first_events: pl.LazyFrame,
) -> pl.LazyFrame:
    """The observed customers' scores and tiers as of `days_before` days before each
    observation date, as a daily run of that day scored them (customers first seen after it
    are absent). Columns: observation_date, customer_id, score, tier."""
    seen = (
        observations.select(KEYS)
        .join(first_events, on="customer_id", how="inner")
        .filter(
            pl.col("first_event_date") <= pl.col(OBSERVATION_DATE) - pl.duration(days=days_before)
        )
    )
    features = features_over(daily, seen, [Setting.of(config)], dates, days_before)
    return (
        scores_of(seen.select(KEYS), features, [(0, dict(config.weights))])
        .rename({"score_0": "score"})
        .with_columns(
            tier_of(pl.col("score"), config.tier_boundaries).over(OBSERVATION_DATE).alias("tier")
        )
    )


def window_counts(
    daily: pl.LazyFrame, observations: pl.LazyFrame, config: ScoringConfig, dates: Sequence[date]
) -> pl.LazyFrame:
    """Per observation and event type, the count in the configured window (no decay): the
    `count` of a run's contributions. Columns: observation_date, customer_id, event_type, count."""
    counted = Setting(config.window_days, None)
    return (
        features_over(daily, observations.select(KEYS), [counted], dates)
        .filter(pl.col("value_0") > 0)
        .select(*KEYS, "event_type", pl.col("value_0").cast(pl.Int64).alias("count"))
    )
