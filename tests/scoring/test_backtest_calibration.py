"""The calibration policy: candidates, the choice that never suggests worse, scaling, rounding,
statuses and the warnings."""

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.backtest.calibration import (
    Choice,
    choose_candidate,
    quantile_scale,
    round_significant,
    scale_factor,
    suggested_weights,
    weight_suggestions,
)
from scoring.backtest.diagnostics import (
    churn_rate_warnings,
    churner_warnings,
    grid_edge_warnings,
    most_frequent_type_warning,
    unmatched_labels_warning,
)
from scoring.backtest.features import Setting, candidate_settings
from scoring.backtest_config import BacktestSettings
from scoring.config import ScoringConfig

CURRENT = Setting(30, None)


def _candidates(rows: list[tuple[str, int, float | None, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "weights": pl.String,
            "window_days": pl.Int64,
            "half_life_days": pl.Float64,
            "inner_auc": pl.Float64,
        },
        orient="row",
    )


def test_round_significant() -> None:
    assert round_significant(12.3456) == 12.35
    assert round_significant(-0.000123456) == -0.0001235
    assert round_significant(0.0) == 0.0
    assert round_significant(98765.4) == 98770.0


def test_quantile_scale_hand_computed() -> None:
    suggested = pl.Series([float(x) for x in range(101)])
    # current = 3 x suggested: every quantile is 3 times larger -> k = 3
    assert quantile_scale(suggested, 3 * suggested) == pytest.approx(3.0)
    # current quantiles 5..95 of 0..100 are 5..95; suggested all 1 -> k = mean(5..95) = 50
    assert quantile_scale(pl.Series([1.0] * 101), suggested) == pytest.approx(50.0)
    # opposite orientation or all-zero suggested scores: no positive scale
    assert quantile_scale(-suggested, suggested) is None
    assert quantile_scale(pl.Series([0.0] * 5), suggested[:5]) is None


def test_scale_factor_falls_back_to_means_then_weights() -> None:
    # 95 % of the suggested scores are 0: no quantile scale; means 0.1 and 2 -> k = 20
    suggested = pl.Series([0.0] * 95 + [2.0] * 5)
    current = pl.Series([2.0] * 100)
    assert scale_factor(suggested, current, [0.5], [4.0]) == pytest.approx(20.0)
    zero = pl.Series([0.0] * 10)
    assert scale_factor(zero, zero, [0.5, -2.0], [4.0, 1.0]) == pytest.approx(2.0)
    assert scale_factor(zero, zero, [], []) == 1.0


def test_suggested_weights_scale_round_and_keep_unfitted_configured_types() -> None:
    weights = suggested_weights(
        {"login": 0.123456, "new_type": -1.0},
        10.0,
        {"login": 1.0, "rare": 7.0},
        ["login", "new_type", "rare"],
    )
    assert weights == {"login": 1.235, "new_type": -10.0, "rare": 7.0}
    statuses = weight_suggestions(
        ["login", "new_type", "rare", "unseen"],
        weights,
        {"login": -0.1, "new_type": 1.0},
        {"login": 1.0, "rare": 7.0},
        {"login": 30, "new_type": 9, "rare": 2, "unseen": 1},
    )
    assert [s.status for s in statuses] == ["fitted", "new", "kept", "skipped"]
    uniform = weight_suggestions(
        ["login", "unseen"], {"login": 1.0}, {}, {"login": 3.0}, {}, "uniform"
    )
    assert [s.status for s in uniform] == ["uniform", "skipped"]


def test_candidate_settings_cover_the_grid_and_the_configured_one() -> None:
    config = ScoringConfig(window_days=21, half_life_days=5, weights={"a": 1})
    grid = BacktestSettings(window_days_grid=(7, 30), half_life_days_grid=(3.0, 14.0))
    found = candidate_settings(config, grid)
    assert Setting(21, 5.0) in found
    assert Setting(7, 14.0) not in found  # a half-life is at most the window
    assert {s.window_days for s in found} == {7, 21, 30}
    assert {s.half_life_days for s in found} == {None, 3.0, 5.0, 14.0}
    assert len(found) == len(set(found))


def test_the_best_candidate_is_chosen_and_says_against_what() -> None:
    candidates = _candidates(
        [
            ("current", 30, None, 0.70),
            ("uniform", 30, None, 0.72),
            ("fitted", 30, None, 0.75),
            ("fitted", 14, 7.0, 0.78),
            ("uniform", 14, 7.0, 0.76),
        ]
    )
    choice = choose_candidate(candidates, CURRENT)
    assert (choice.weights, choice.setting, choice.inner_auc) == ("fitted", Setting(14, 7.0), 0.78)
    assert not choice.keeps_current
    assert "current configuration 0.7000, uniform weights 0.7200" in choice.reason


def test_the_current_configuration_is_kept_when_nothing_beats_it() -> None:
    candidates = _candidates(
        [
            ("current", 30, None, 0.80),
            ("uniform", 30, None, 0.71),
            ("fitted", 30, None, 0.80),  # a tie: no change wins
            ("fitted", 14, 7.0, 0.79),
        ]
    )
    choice = choose_candidate(candidates, CURRENT)
    assert choice == Choice("current", CURRENT, 0.80, choice.reason, keeps_current=True)
    assert choice.reason.startswith("kept the current configuration: no candidate scored above")
    nothing = choose_candidate(
        candidates.with_columns(pl.lit(None, pl.Float64).alias("inner_auc")), CURRENT
    )
    assert nothing.keeps_current and "no churned or no retained" in nothing.reason


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0.3, 0.95), min_size=9, max_size=9))
def test_the_choice_never_scores_below_the_current_or_uniform_weights(aucs: list[float]) -> None:
    settings_ = [Setting(30, None), Setting(14, None), Setting(30, 7.0)]
    rows = [
        (name, s.window_days, s.half_life_days, aucs[3 * i + j])
        for i, s in enumerate(settings_)
        for j, name in enumerate(("current", "uniform", "fitted"))
    ]
    choice = choose_candidate(_candidates(rows), CURRENT)
    assert choice.inner_auc is not None
    assert choice.inner_auc >= aucs[0] and choice.inner_auc >= aucs[1]
    assert choice.inner_auc == max(aucs)


# --- warnings -----------------------------------------------------------------------------


def test_grid_edge_warnings() -> None:
    settings_ = [Setting(7, None), Setting(30, None), Setting(30, 2.0), Setting(60, 14.0)]
    shortest = Choice("fitted", Setting(30, 2.0), 0.8, "")
    assert len(grid_edge_warnings(shortest, settings_, 1.0)) == 1
    assert "half_life_days 2 is the shortest" in grid_edge_warnings(shortest, settings_, 1.0)[0]
    longest = Choice("fitted", Setting(60, 14.0), 0.8, "")
    found = grid_edge_warnings(longest, settings_, 100.0)
    assert "window_days 60 is the longest" in found[0]
    assert "C = 100 is the weakest" in found[1]
    assert grid_edge_warnings(Choice("fitted", Setting(30, None), 0.8, ""), settings_, 1.0) == []
    kept = Choice("current", Setting(7, None), 0.8, "kept", keeps_current=True)
    assert grid_edge_warnings(kept, settings_, 0.001) == []


def test_negative_weight_on_the_most_frequent_type() -> None:
    occurrences = {"navigate": 900.0, "video": 100.0, "unweighted": 5000.0}
    assert (
        "navigate, gets a negative weight"
        in most_frequent_type_warning({"navigate": -0.2, "video": 3.0}, occurrences)[0]
    )
    assert most_frequent_type_warning({"navigate": 0.2, "video": -3.0}, occurrences) == []


def test_few_churners_and_near_certain_churn_rates() -> None:
    per_period = pl.DataFrame(
        {"period": ["train", "test", "all"], "customers": [500, 100, 600], "churned": [40, 98, 138]}
    )
    assert churner_warnings(per_period, 50) == [
        "only 40 churned observation(s) on the train dates (fewer than 50): the train AUC is "
        "uncertain; widen --from/--to or the horizon"
    ]
    per_date = pl.DataFrame(
        {
            "observation_date": [date(2026, 1, 1), date(2026, 1, 8), date(2026, 1, 15)],
            "customers": [100, 100, 100],
            "churned": [50, 100, 1],
        }
    )
    found = churn_rate_warnings(per_date, per_period)
    assert "test period's churn rate is 98.0%" in found[0]
    assert "2 observation date(s): 2026-01-08 (100%), 2026-01-15 (1%)" in found[1]
    assert "observed_until" in found[1]


def test_labels_of_customers_without_events() -> None:
    assert unmatched_labels_warning(1000, 5) == []
    assert "10 of 1,000 labelled observations" in unmatched_labels_warning(1000, 10)[0]
