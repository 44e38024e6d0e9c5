"""Run-over-run changes: deltas, top movers, tier shift (hand-computed)."""

import polars as pl
import pytest

from scoring.changes import score_changes, tier_shift, top_movers

CURRENT = pl.LazyFrame(
    {
        "customer_id": ["a", "b", "c", "d", "e"],
        "score": [50.0, -10.0, 0.3, 120.0, 7.0],
        "tier": [
            "somewhat_engaged",
            "churn_risk",
            "very_disengaged",
            "power_user",
            "very_disengaged",
        ],
    }
)
PREVIOUS = pl.LazyFrame(
    {
        "customer_id": ["a", "b", "c", "d", "gone"],
        "score": [40.0, 20.0, 0.1, 130.0, 5.0],
        "tier": [
            "very_disengaged",
            "very_disengaged",
            "very_disengaged",
            "power_user",
            "very_disengaged",
        ],
    }
)


def test_score_changes_delta_is_current_minus_previous_and_null_for_new_customers() -> None:
    changes = score_changes(CURRENT, PREVIOUS).collect()
    assert changes.select("customer_id", "delta", "previous_tier").rows() == [
        ("a", 10.0, "very_disengaged"),
        ("b", -30.0, "very_disengaged"),
        ("c", 0.2, "very_disengaged"),  # 0.3 - 0.1 rounded: no 0.19999999999999998
        ("d", -10.0, "power_user"),
        ("e", None, None),
    ]


def test_top_movers_by_absolute_delta_ties_by_customer() -> None:
    movers = top_movers(score_changes(CURRENT, PREVIOUS), 3).collect()
    assert movers["customer_id"].to_list() == ["b", "a", "d"]  # |-30|, then 10 and -10 by id


def test_tier_shift_counts_shares_and_change_in_tier_order() -> None:
    current = pl.LazyFrame({"tier": ["power_user", "churn_risk"], "customers": [1, 3]})
    previous = pl.LazyFrame({"tier": ["churn_risk", "very_disengaged"], "customers": [1, 1]})
    shift = tier_shift(current, previous).collect()
    assert shift.rows() == [
        ("churn_risk", 3, 0.75, 1, 0.5, 2),
        ("very_disengaged", 0, 0.0, 1, 0.5, -1),
        ("somewhat_engaged", 0, 0.0, 0, 0.0, 0),
        ("highly_engaged", 0, 0.0, 0, 0.0, 0),
        ("power_user", 1, 0.25, 0, 0.0, 1),
    ]


def test_tier_shift_without_previous_run_has_zero_shares() -> None:
    empty = pl.LazyFrame(schema={"tier": pl.String, "customers": pl.Int64})
    shift = tier_shift(pl.LazyFrame({"tier": ["churn_risk"], "customers": [2]}), empty).collect()
    assert shift["previous_share"].to_list() == pytest.approx([0.0] * 5)
    assert shift["share"].to_list() == pytest.approx([1.0, 0, 0, 0, 0])
