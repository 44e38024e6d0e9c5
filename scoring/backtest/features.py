"""Point-in-time features of observations for many scoring settings at once, from daily counts.

A setting is a (window_days, half_life_days) pair. For an observation (customer c, date D), an
event type t and a setting s, the feature is the occurrences as the score counts them:

    value_s = sum over the days d of the window of s ending on D of  n_{c,t,d} x f_s(D - d)

with f_s(age) = 1 without decay and 0.5 ** (age / half_life_days) with it (scoring.engagement
.decay_by_age), so the score under weights w is sum over t of w_t x value_s. Every setting is
one column of the same pass over the daily counts (scoring.aggregates.DAILY_EVENT_COUNTS):
the raw events are never read again per candidate.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from scoring.aggregates import EVENT_DATE
from scoring.backtest.observations import OBSERVATION_DATE
from scoring.backtest_config import BacktestSettings
from scoring.config import ScoringConfig
from scoring.engagement import SCORE_DECIMALS, contribution
from scoring.metrics.rates import exact_sum

KEYS = [OBSERVATION_DATE, "customer_id"]
FEATURE_DECIMALS = 15
"""Each count x factor is rounded to 1e-15 and summed exactly: the same features whatever
the order of addition (so the same fit from the same data)."""


@dataclass(frozen=True)
class Setting:
    """A scoring window and decay: what a configuration counts, whatever its weights."""

    window_days: int
    half_life_days: float | None

    @classmethod
    def of(cls, config: ScoringConfig) -> "Setting":
        return cls(config.window_days, config.half_life_days)

    @property
    def label(self) -> str:
        """e.g. `window 30 d, half-life 7 d` or `window 30 d, no decay`."""
        decay = (
            "no decay" if self.half_life_days is None else f"half-life {self.half_life_days:g} d"
        )
        return f"window {self.window_days} d, {decay}"

    def factor(self, age_days: int) -> float:
        """How much one occurrence of this age counts (0 outside the window)."""
        if age_days >= self.window_days:
            return 0.0
        return 1.0 if self.half_life_days is None else 0.5 ** (age_days / self.half_life_days)

    def applied_to(self, config: ScoringConfig) -> ScoringConfig:
        """The configuration with this window and half-life."""
        return config.model_copy(
            update={"window_days": self.window_days, "half_life_days": self.half_life_days}
        )


def candidate_settings(config: ScoringConfig, grid: BacktestSettings) -> list[Setting]:
    """Every window of the grid (and the configured one) with no decay and every half-life of
    the grid (and the configured one) up to the window; the configured setting is included."""
    windows = sorted({*grid.window_days_grid, config.window_days})
    configured = () if config.half_life_days is None else (config.half_life_days,)
    half_lives = sorted({*grid.half_life_days_grid, *configured})
    settings = {Setting(w, h) for w in windows for h in (None, *half_lives) if h is None or h <= w}
    return sorted(
        settings | {Setting.of(config)}, key=lambda s: (s.window_days, s.half_life_days or 0)
    )


def value_column(index: int) -> str:
    return f"value_{index}"


def day_factors(settings: Sequence[Setting]) -> pl.LazyFrame:
    """age_days 0 .. the widest window - 1 and each setting's factor (value_column order)."""
    ages = range(max(s.window_days for s in settings))
    return pl.LazyFrame(
        {
            "age_days": list(ages),
            **{value_column(i): [s.factor(a) for a in ages] for i, s in enumerate(settings)},
        },
        schema={
            "age_days": pl.Int64,
            **{value_column(i): pl.Float64 for i in range(len(settings))},
        },
    )


def window_features(
    daily: pl.LazyFrame,
    customers: pl.LazyFrame,
    settings: Sequence[Setting],
    observation_date: date,
    as_of: date,
) -> pl.LazyFrame:
    """Features of the `customers` (customer_id) observed on `observation_date`, counted in the
    windows ending on `as_of` (the observation date, or a day before it for a comparison).

    Columns: observation_date, customer_id, event_type, value_0 .. (one per setting).
    """
    factors = day_factors(settings)
    first = as_of - timedelta(days=max(s.window_days for s in settings) - 1)
    values = [value_column(i) for i in range(len(settings))]
    return (
        daily.filter(pl.col(EVENT_DATE).is_between(pl.lit(first), pl.lit(as_of)))
        .join(customers, on="customer_id", how="semi")
        .with_columns((pl.lit(as_of) - pl.col(EVENT_DATE)).dt.total_days().alias("age_days"))
        .join(factors, on="age_days", how="inner")
        .group_by("customer_id", "event_type")
        .agg(exact_sum(pl.col("count") * pl.col(v), FEATURE_DECIMALS).alias(v) for v in values)
        .select(
            pl.lit(observation_date).alias(OBSERVATION_DATE), "customer_id", "event_type", *values
        )
    )


def features_over(
    daily: pl.LazyFrame,
    observations: pl.LazyFrame,
    settings: Sequence[Setting],
    dates: Sequence[date],
    days_before: int = 0,
) -> pl.LazyFrame:
    """window_features of every observation (observation_date, customer_id) of the `dates`,
    as of `days_before` days before each date; sorted by the keys and event_type."""
    per_date = [
        window_features(
            daily,
            observations.filter(pl.col(OBSERVATION_DATE) == day).select("customer_id"),
            settings,
            day,
            day - timedelta(days=days_before),
        )
        for day in dates
    ]
    return pl.concat(per_date).sort(*KEYS, "event_type")


def scorer_weights(scorers: Sequence[tuple[int, Mapping[str, float]]]) -> pl.LazyFrame:
    """event_type and weight_0 .. (one column per scorer; 0 where a scorer has no weight)."""
    types = sorted({t for _, weights in scorers for t in weights})
    columns = {f"weight_{k}": [w.get(t, 0.0) for t in types] for k, (_, w) in enumerate(scorers)}
    return pl.LazyFrame(
        {"event_type": types, **columns},
        schema={"event_type": pl.String, **dict.fromkeys(columns, pl.Float64)},
    )


def scores_of(
    observations: pl.LazyFrame,
    features: pl.LazyFrame,
    scorers: Sequence[tuple[int, Mapping[str, float]]],
) -> pl.LazyFrame:
    """Per observation and scorer k = (setting index i, weights w): score_k = sum over event
    types t of w_t x value_i (0 without any weighted event), each contribution rounded and
    summed exactly as the score is (scoring.engagement.contribution). Columns: the
    observations' columns, score_0 ..; in their order."""
    scores = [
        exact_sum(contribution(pl.col(f"weight_{k}"), pl.col(value_column(i)))).alias(f"score_{k}")
        for k, (i, _) in enumerate(scorers)
    ]
    per_observation = (
        features.join(scorer_weights(scorers), on="event_type", how="inner")
        .group_by(KEYS)
        .agg(scores)
    )
    return observations.join(
        per_observation, on=KEYS, how="left", maintain_order="left"
    ).with_columns(
        pl.col(f"score_{k}").fill_null(0.0).round(SCORE_DECIMALS) for k in range(len(scorers))
    )
