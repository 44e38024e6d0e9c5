"""Tier boundaries: suggested from a backtest, and tiers by rank (TierQuantiles) for scores with
no natural scale."""

import polars as pl
import pytest
from pydantic import ValidationError

from scoring.backtest.tiers import churn_risk_target, suggested_tiers
from scoring.config import ScoringConfig, TierBoundaries, TierQuantiles
from scoring.engagement import tier_of

QUANTILES = TierQuantiles(
    churn_risk_below=0.1, very_disengaged_max=0.4, somewhat_engaged_max=0.7, highly_engaged_max=0.9
)


def test_churn_risk_target() -> None:
    assert churn_risk_target(0.1) == pytest.approx(0.2)  # twice the base rate
    assert churn_risk_target(0.8) == pytest.approx(0.9)  # halfway to 100 %


def test_suggested_tiers_hand_computed() -> None:
    # scores 1..100; churned: the even scores up to 20 and 40, 60, 80, 100 (base 0.14, target
    # 0.28). Below 36: 10 of 35 churn (0.286); below 37: 10 of 36 (0.278); below 42 and up
    # never 0.28 again (11 of 41 ...). So churn_risk is below 36
    scores = [float(s) for s in range(1, 101)]
    churned = [s <= 20 and s % 2 == 0 for s in range(1, 101)]
    churned = [c or (s > 20 and s % 20 == 0) for s, c in zip(range(1, 101), churned, strict=True)]
    observations = pl.DataFrame({"score": scores, "churned": churned})
    boundaries, note = suggested_tiers(observations)
    base = sum(churned) / 100
    below = observations.filter(pl.col("score") < boundaries.churn_risk_below)
    assert below["churned"].mean() >= churn_risk_target(base)  # type: ignore[operator]
    one_more = observations.filter(pl.col("score") <= boundaries.churn_risk_below)
    assert one_more["churned"].mean() < churn_risk_target(base)  # type: ignore[operator]
    assert boundaries.churn_risk_below == 36.0
    # the others at the lower 40 / 70 / 90 % quantiles of the 65 scores 36..100: positions
    # floor(0.4 x 64) = 25, floor(0.7 x 64) = 44, floor(0.9 x 64) = 57
    assert (
        boundaries.very_disengaged_max,
        boundaries.somewhat_engaged_max,
        boundaries.highly_engaged_max,
    ) == (61.0, 80.0, 93.0)
    assert note.startswith("churn_risk below 36: 35 training observations (35.0%)")


def test_suggested_tiers_without_a_churn_risk_range_and_with_ties() -> None:
    # everyone scores 0 or 5, churn is even: no range reaches the target, bounds stay ascending
    observations = pl.DataFrame({"score": [0.0] * 60 + [5.0] * 40, "churned": [True, False] * 50})
    boundaries, note = suggested_tiers(observations)
    assert "churn_risk left empty" in note
    bounds = [
        boundaries.churn_risk_below,
        boundaries.very_disengaged_max,
        boundaries.somewhat_engaged_max,
        boundaries.highly_engaged_max,
    ]
    assert bounds == sorted(bounds) and len(set(bounds)) == 4
    assert bounds[0] == 0.0


def test_quantile_tiers_go_by_rank() -> None:
    # scores 1..10: shares strictly below are 0.0, 0.1, ..., 0.9
    frame = pl.DataFrame({"score": [float(s) for s in range(10, 0, -1)]})
    boundaries = TierBoundaries(quantiles=QUANTILES)
    tiers = frame.with_columns(tier_of(pl.col("score"), boundaries).alias("tier")).sort("score")
    assert tiers["tier"].to_list() == [
        "churn_risk",
        "very_disengaged",
        "very_disengaged",
        "very_disengaged",
        "somewhat_engaged",
        "somewhat_engaged",
        "somewhat_engaged",
        "highly_engaged",
        "highly_engaged",
        "power_user",
    ]
    # equal scores share a tier; a scale change changes nothing
    tied = pl.DataFrame({"score": [0.0] * 6 + [3.0] * 4})
    assert (
        tied.with_columns(tier_of(pl.col("score"), boundaries).alias("tier"))["tier"].to_list()
        == ["churn_risk"] * 6 + ["somewhat_engaged"] * 4
    )
    scaled = frame.with_columns(pl.col("score") * 1000 - 7)
    assert (
        scaled.with_columns(tier_of(pl.col("score"), boundaries).alias("t"))
        .sort("score")["t"]
        .to_list()
        == tiers["tier"].to_list()
    )


def test_quantile_tiers_configuration() -> None:
    config = ScoringConfig.model_validate(
        {
            "tiers": {
                "quantiles": {
                    "churn_risk_below": 0.1,
                    "very_disengaged_max": 0.4,
                    "somewhat_engaged_max": 0.7,
                    "highly_engaged_max": 0.9,
                }
            }
        }
    )
    assert config.tier_boundaries.quantiles == QUANTILES
    assert ScoringConfig.model_validate_json(config.model_dump_json()) == config
    with pytest.raises(ValidationError, match="strictly ascending"):
        TierQuantiles(
            churn_risk_below=0.5,
            very_disengaged_max=0.4,
            somewhat_engaged_max=0.7,
            highly_engaged_max=0.9,
        )
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        TierQuantiles(
            churn_risk_below=0.1,
            very_disengaged_max=0.4,
            somewhat_engaged_max=0.7,
            highly_engaged_max=90,
        )
    # score tiers dump (and hash) as before the option existed
    plain = ScoringConfig(tiers=TierBoundaries(very_disengaged_max=10))
    assert "quantiles" not in plain.model_dump()["tiers"]
