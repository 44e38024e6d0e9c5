"""The weight fit: scale rule, rounding, sign recovery on planted data, degenerate inputs."""

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from tasks.backtest.calibrate import (
    MIN_CUSTOMERS_PER_TYPE,
    column_std,
    design_matrix,
    fit_suggested_weights,
    quantile_scale,
    round_significant,
)

DATES = [date(2026, 1, 1) + timedelta(days=7 * i) for i in range(10)]


def test_round_significant() -> None:
    assert round_significant(12.3456) == 12.35
    assert round_significant(-0.000123456) == -0.0001235
    assert round_significant(0.0) == 0.0
    assert round_significant(98765.4) == 98770.0


def test_quantile_scale_hand_computed() -> None:
    suggested = np.arange(101, dtype=float)
    # current = 3 x suggested: every quantile is 3 times larger -> k = 3
    assert quantile_scale(suggested, 3 * suggested) == pytest.approx(3.0)
    # current quantiles 5..95 of 0..100 are 5..95; suggested all 1 -> k = mean(5..95) = 50
    assert quantile_scale(np.ones(101), suggested) == pytest.approx(50.0)
    # opposite orientation or all-zero suggested scores: no positive scale
    assert quantile_scale(-suggested, suggested) is None
    assert quantile_scale(np.zeros(5), suggested[:5]) is None


def test_design_matrix_and_std() -> None:
    labels = pl.DataFrame(
        {"observation_date": [DATES[0]] * 3, "customer_id": ["a", "b", "c"], "churned": [0, 1, 0]}
    )
    features = pl.DataFrame(
        {
            "observation_date": [DATES[0]] * 4 + [DATES[1]],
            "customer_id": ["a", "a", "c", "zz", "a"],
            "event_type": ["login", "invite", "login", "login", "login"],
            "value": [2.0, 1.0, 4.0, 9.0, 7.0],
        }
    )
    matrix = design_matrix(features, labels, ["invite", "login"])
    assert matrix.toarray().tolist() == [[1.0, 2.0], [0.0, 0.0], [0.0, 4.0]]
    # login column 2, 0, 4: mean 2, population std sqrt(8/3)
    assert column_std(matrix).tolist() == pytest.approx([np.sqrt(2 / 9), np.sqrt(8 / 3)])


def _planted(seed: int, customers: int = 400) -> tuple[pl.DataFrame, pl.DataFrame]:
    """good lowers churn, bad raises it, noise does nothing, rare is seen too rarely."""
    rng = np.random.default_rng(seed)
    features, labels = [], []
    for day in DATES:
        good = rng.poisson(3, customers)
        bad = rng.poisson(1, customers)
        noise = rng.poisson(5, customers)
        logit = 0.5 - 0.8 * good + 1.2 * bad + rng.logistic(size=customers) * 0.3
        churned = logit > np.quantile(logit, 0.7)
        ids = [f"c{i}" for i in range(customers)]
        labels.append(
            pl.DataFrame({"observation_date": day, "customer_id": ids, "churned": churned})
        )
        for name, counts in (("good", good), ("bad", bad), ("noise", noise)):
            features.append(
                pl.DataFrame(
                    {
                        "observation_date": day,
                        "customer_id": ids,
                        "event_type": name,
                        "value": counts.astype(float),
                    }
                ).filter(pl.col("value") > 0)
            )
        features.append(
            pl.DataFrame(
                {
                    "observation_date": [day],
                    "customer_id": ["c0"],
                    "event_type": ["rare"],
                    "value": [1.0],
                }
            )
        )
    return pl.concat(features), pl.concat(labels)


def test_planted_weights_are_recovered_and_beat_uniform_out_of_time() -> None:
    features, labels = _planted(seed=3)
    train, test = DATES[:4], DATES[8:]  # D + 30 <= Feb 26 for the first four
    current = {"good": 1.0, "bad": 1.0, "noise": 1.0, "rare": 5.0, "never_seen": 2.0}
    calibration = fit_suggested_weights(features, labels, train, 30, current)
    assert calibration.fitted
    weights = calibration.weights
    assert weights["good"] > 0 > weights["bad"]
    assert abs(weights["noise"]) < 0.2 * weights["good"]
    status = {s.event_type: s.status for s in calibration.suggestions}
    # rare (seen 4 times in training) and never_seen keep their current weights
    assert status == {
        "bad": "fitted",
        "good": "fitted",
        "noise": "fitted",
        "rare": "kept",
        "never_seen": "kept",
    }
    assert weights["rare"] == 5.0 and weights["never_seen"] == 2.0
    assert MIN_CUSTOMERS_PER_TYPE > 4

    test_labels = labels.filter(pl.col("observation_date").is_in(test))
    test_features = features.filter(pl.col("observation_date").is_in(test))
    types = sorted(current)
    matrix = design_matrix(test_features, test_labels, types)
    retained = ~test_labels["churned"].to_numpy()
    suggested_auc = roc_auc_score(retained, matrix @ np.array([weights[t] for t in types]))
    uniform_auc = roc_auc_score(retained, matrix @ np.ones(len(types)))
    assert suggested_auc > uniform_auc + 0.2


def test_scale_keeps_the_score_distribution_of_the_current_weights() -> None:
    features, labels = _planted(seed=4)
    current = {"good": 10.0, "bad": -10.0, "noise": 1.0}
    calibration = fit_suggested_weights(features, labels, DATES[:4], 30, current)
    train_labels = labels.filter(pl.col("observation_date").is_in(DATES[:4]))
    types = sorted(current)
    matrix = design_matrix(features, train_labels, types)
    suggested = matrix @ np.array([calibration.weights[t] for t in types])
    now = matrix @ np.array([current[t] for t in types])
    # the fitted k is the least-squares quantile match: applying it again changes nothing
    assert quantile_scale(suggested, now) == pytest.approx(1.0, rel=1e-3)


def test_not_fitted_without_both_classes_keeps_the_current_weights() -> None:
    features, labels = _planted(seed=5)
    all_retained = labels.with_columns(pl.lit(False).alias("churned"))
    current = {"good": 2.0, "bad": -1.0}
    calibration = fit_suggested_weights(features, all_retained, DATES[:4], 30, current)
    assert not calibration.fitted
    assert calibration.weights == current
    assert "0 churned" in calibration.note


def test_constant_and_unconfigured_types() -> None:
    features, labels = _planted(seed=6)
    constant = labels.select(
        "observation_date",
        "customer_id",
        pl.lit("heartbeat").alias("event_type"),
        pl.lit(1.0).alias("value"),
    )
    calibration = fit_suggested_weights(
        pl.concat([features, constant]), labels, DATES[:4], 30, {"good": 1.0}
    )
    status = {s.event_type: s.status for s in calibration.suggestions}
    # heartbeat is the same for everyone (no variation): no weight; bad and noise are new
    assert status == {
        "bad": "new",
        "good": "fitted",
        "heartbeat": "skipped",
        "noise": "new",
        "rare": "skipped",
    }
    assert set(calibration.weights) == {"bad", "good", "noise"}


def test_rows_of_other_dates_are_never_read() -> None:
    features, labels = _planted(seed=7)
    current = {"good": 1.0, "bad": 1.0, "noise": 1.0}
    baseline = fit_suggested_weights(features, labels, DATES[:4], 30, current)
    later = pl.col("observation_date") >= DATES[4]
    scrambled_labels = labels.with_columns(
        pl.when(later).then(~pl.col("churned")).otherwise(pl.col("churned")).alias("churned")
    )
    scrambled_features = features.with_columns(
        pl.when(later).then(pl.col("value") * 7).otherwise(pl.col("value")).alias("value")
    )
    again = fit_suggested_weights(scrambled_features, scrambled_labels, DATES[:4], 30, current)
    assert again.weights == baseline.weights
