"""The logistic fit adapter: design matrix, sign recovery on planted data, the regularization
search, degenerate inputs."""

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from scoring.backtest.calibration import DEFAULT_REGULARIZATION, MIN_CUSTOMERS_PER_TYPE
from tasks.backtest.calibrate import (
    MIN_AUC_GAIN,
    Design,
    churn_fit,
    column_std,
    design_matrix,
    observed_types,
    regularization_order,
    sample_rows,
    tuned_regularization,
)

DATES = [date(2026, 1, 1) + timedelta(days=7 * i) for i in range(10)]


def test_design_matrix_and_std() -> None:
    labels = pl.DataFrame(
        {"observation_date": [DATES[0]] * 3, "customer_id": ["a", "b", "c"], "churned": [0, 1, 0]}
    )
    features = pl.DataFrame(
        {
            "observation_date": [DATES[0]] * 4 + [DATES[1]],
            "customer_id": ["a", "a", "c", "zz", "a"],
            "event_type": ["login", "invite", "login", "login", "login"],
            "value_0": [2.0, 1.0, 4.0, 9.0, 7.0],
        }
    )
    matrix = design_matrix(features, labels, ["invite", "login"], "value_0")
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


def _on(frame: pl.DataFrame, dates: list[date]) -> pl.DataFrame:
    return frame.filter(pl.col("observation_date").is_in(pl.Series(dates, dtype=pl.Date).implode()))


def test_planted_weights_are_recovered_and_beat_uniform_out_of_time() -> None:
    features, labels = _planted(seed=3)
    train = _on(labels, DATES[:4])
    current = {"good": 1.0, "bad": 1.0, "noise": 1.0, "rare": 5.0, "never_seen": 2.0}
    seen, every, fitted = observed_types(features, train, ["value"], current)
    # rare (seen 4 times in training) and never_seen cannot be fitted
    assert fitted == ["bad", "good", "noise"]
    assert every == ["bad", "good", "never_seen", "noise", "rare"]
    assert seen["rare"] == 4 < MIN_CUSTOMERS_PER_TYPE
    fit = churn_fit(Design.of(features, train, fitted, ["value"]), "value", 1.0, "balanced")
    weights = fit.weights
    assert weights["good"] > 0 > weights["bad"]
    assert abs(weights["noise"]) < 0.2 * weights["good"]
    assert fit.coefficients["good"] == pytest.approx(-weights["good"])

    test = _on(labels, DATES[8:])
    matrix = design_matrix(features, test, fitted, "value")
    retained = ~test["churned"].to_numpy()
    suggested_auc = roc_auc_score(retained, matrix @ np.array([weights[t] for t in fitted]))
    uniform_auc = roc_auc_score(retained, matrix @ np.ones(len(fitted)))
    assert suggested_auc > uniform_auc + 0.2


def test_nothing_is_fitted_without_both_classes_or_variation() -> None:
    features, labels = _planted(seed=5)
    all_retained = labels.with_columns(pl.lit(False).alias("churned"))
    design = Design.of(features, all_retained, ["good", "bad"], ["value"])
    assert churn_fit(design, "value", 1.0, None).weights == {}
    constant = labels.select(
        "observation_date",
        "customer_id",
        pl.lit("heartbeat").alias("event_type"),
        pl.lit(1.0).alias("value"),
    )
    _, _, fitted = observed_types(pl.concat([features, constant]), labels, ["value"], {})
    assert "heartbeat" not in fitted  # the same for everyone: no variation


def test_rows_of_other_dates_are_never_read() -> None:
    features, labels = _planted(seed=7)
    train = _on(labels, DATES[:4])
    types = ["bad", "good", "noise"]
    baseline = churn_fit(Design.of(features, train, types, ["value"]), "value", 1.0, None)
    later = pl.col("observation_date") >= DATES[4]
    scrambled = features.with_columns(
        pl.when(later).then(pl.col("value") * 7).otherwise(pl.col("value")).alias("value")
    )
    again = churn_fit(Design.of(scrambled, train, types, ["value"]), "value", 1.0, None)
    assert again.weights == baseline.weights


def test_regularization_starts_at_the_default_and_moves_only_for_a_gain() -> None:
    order = regularization_order()
    assert order[0] == (DEFAULT_REGULARIZATION, "balanced")
    assert [c for c, _ in order[:6]] == [1.0, 1.0, 0.1, 0.1, 10.0, 10.0]
    features, labels = _planted(seed=9)
    fit_rows, check_rows = _on(labels, DATES[:3]), _on(labels, DATES[4:6])

    def designs(types: list[str]) -> tuple[Design, Design]:
        return (
            Design.of(features, fit_rows, types, ["value"]),
            Design.of(features, check_rows, types, ["value"]),
        )

    # one feature: every strength ranks the customers alike, the default stays
    c, class_weight, auc = tuned_regularization(*designs(["good"]), "value")
    assert (c, class_weight) == (DEFAULT_REGULARIZATION, "balanced")
    # three: the AUC found is the grid's best up to MIN_AUC_GAIN
    fit_design, check_design = designs(["bad", "good", "noise"])
    c, class_weight, auc = tuned_regularization(fit_design, check_design, "value")
    churned = check_rows["churned"].to_numpy()
    best = 0.0
    for strength, weighting in order:
        fit = churn_fit(fit_design, "value", strength, weighting)
        score = check_design.matrix("value") @ np.array(list(fit.weights.values()))
        best = max(best, roc_auc_score(~churned, score))
    assert auc is not None and best - MIN_AUC_GAIN <= auc <= best


def test_sample_rows_is_seeded_and_bounded() -> None:
    rows = pl.DataFrame(
        {"observation_date": [DATES[0]] * 50, "customer_id": [f"c{i:02d}" for i in range(50)]}
    )
    assert sample_rows(rows, 100).equals(rows)
    sampled = sample_rows(rows.reverse(), 10)
    assert sampled.height == 10 and sampled.equals(sample_rows(rows, 10))
