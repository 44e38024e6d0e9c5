"""Tier boundaries suggested by a backtest, from the scores and churn of training observations.

- churn_risk: the scores below the largest bound t such that the observations scoring below t
  churn at least at target = min(2 x base rate, (1 + base rate) / 2) (twice the base rate, or
  halfway to 100 % when twice is out of reach), among at least MIN_CHURN_RISK_SHARE of the
  observations (and MIN_CHURN_RISK_CUSTOMERS); no such bound: the tier is left empty (t = the
  lowest score);
- the other tiers: at the 40 %, 70 % and 90 % quantiles of the scores from t up (the spec's
  1-40 / 41-70 / 71-100 / above proportions), rounded to 4 significant digits and made
  strictly ascending (a bound equal to the one before moves to the next higher score).
"""

import math

import polars as pl

from scoring.backtest.calibration import round_significant
from scoring.config import TierBoundaries

TIER_QUANTILES = (0.40, 0.70, 0.90)
MIN_CHURN_RISK_SHARE = 0.01
MIN_CHURN_RISK_CUSTOMERS = 10


def churn_risk_target(base_rate: float) -> float:
    """The churn rate the churn_risk tier must reach: min(2 x base, (1 + base) / 2)."""
    return min(2 * base_rate, (1 + base_rate) / 2)


def churn_risk_bounds(observations: pl.LazyFrame) -> pl.LazyFrame:
    """Per distinct score s, ascending: below = observations scoring below s, churned_below,
    and rate_below = churned_below / below (null when none)."""
    return (
        observations.group_by("score")
        .agg(pl.len().alias("customers"), pl.col("churned").sum().alias("churned"))
        .sort("score")
        .select(
            "score",
            pl.col("customers").cum_sum().shift(1, fill_value=0).alias("below"),
            pl.col("churned").cum_sum().shift(1, fill_value=0).alias("churned_below"),
        )
        .with_columns(
            pl.when(pl.col("below") > 0)
            .then(pl.col("churned_below") / pl.col("below"))
            .alias("rate_below")
        )
    )


def _next_above(scores: pl.Series, bound: float) -> float:
    """The lowest score above `bound`, else `bound` plus a step in its 4th significant digit."""
    higher = scores.filter(scores > bound)
    if higher.len():
        return float(higher.min())  # type: ignore[arg-type]
    magnitude = math.floor(math.log10(abs(bound))) if bound else 0
    return bound + 10.0 ** (magnitude - 3)


def suggested_tiers(observations: pl.DataFrame) -> tuple[TierBoundaries, str]:
    """The suggested boundaries of the module docstring and a sentence on the churn_risk tier.
    `observations`: score, churned (at least one row)."""
    customers = observations.height
    base_rate = float(observations["churned"].mean())  # type: ignore[arg-type]
    target = churn_risk_target(base_rate)
    minimum = max(MIN_CHURN_RISK_CUSTOMERS, math.ceil(MIN_CHURN_RISK_SHARE * customers))
    bounds = churn_risk_bounds(observations.lazy()).collect()
    qualifying = bounds.filter((pl.col("below") >= minimum) & (pl.col("rate_below") >= target))
    scores = observations["score"]
    if qualifying.height:
        row = qualifying.row(-1, named=True)
        churn_risk_below = round_significant(row["score"])
        note = (
            f"churn_risk below {churn_risk_below:g}: {row['below']:,} training observations "
            f"({row['below'] / customers:.1%}) churning at {row['rate_below']:.1%} (base rate "
            f"{base_rate:.1%}, target {target:.1%})"
        )
    else:
        churn_risk_below = float(scores.min())  # type: ignore[arg-type]
        note = (
            f"no score range churns at {target:.1%} or more (base rate {base_rate:.1%}) among "
            f"at least {minimum:,} observations: churn_risk left empty"
        )
    upper = scores.filter(scores >= churn_risk_below)
    chosen = [churn_risk_below]
    for quantile in TIER_QUANTILES:
        value = round_significant(float(upper.quantile(quantile, "lower") or churn_risk_below))
        chosen.append(value if value > chosen[-1] else _next_above(scores, chosen[-1]))
    return (
        TierBoundaries(
            churn_risk_below=chosen[0],
            very_disengaged_max=chosen[1],
            somewhat_engaged_max=chosen[2],
            highly_engaged_max=chosen[3],
        ),
        note,
    )
