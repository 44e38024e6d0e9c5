"""Suggested weights: a regularized logistic regression of churn on per-event-type counts.

Fitted on the training observation dates only (the caller passes their rows; nothing else is
read here). Steps:

1. features: every event type seen for at least MIN_CUSTOMERS_PER_TYPE training observations
   with some variation; the value is the count in the window (decayed like the score when
   `half_life_days` is set), divided by its standard deviation for the fit;
2. L2-regularized logistic regression of churned on the features (scikit-learn, lbfgs). Its
   strength C and class weighting are chosen by the best validation AUC inside the training
   rows (an inner time split of the training dates when there is one, else 3 folds grouped by
   customer; on a seeded sample of 200,000 rows when there are more), then refitted on all
   training rows;
3. per-count churn coefficients beta_t become raw weights -beta_t (higher score = less churn);
4. scale: the weights are multiplied by the k > 0 that best matches the quantiles (5 %, 10 %,
   ..., 95 %) of the suggested scores to those of the current scores on the training
   observations (least squares through the origin: k = sum(q_s q_c) / sum(q_s^2)), so the
   configured tiers keep their meaning; then rounded to 4 significant digits.

Configured types without enough data keep their current weight; unconfigured types that can be
fitted are suggested too (status `new`).
"""

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from scoring.backtest import OBSERVATION_DATE, time_split

MIN_CUSTOMERS_PER_TYPE = 5
"""An event type is fitted only when seen for at least this many training observations."""
REGULARIZATION_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)
CLASS_WEIGHTS: tuple[str | None, ...] = (None, "balanced")
INNER_FOLDS = 3
INNER_MAX_ROWS = 200_000
"""Above this many training rows, the regularization is chosen on a seeded random sample."""
SCALE_QUANTILES = tuple(q / 20 for q in range(1, 20))
SIGNIFICANT_DIGITS = 4


@dataclass(frozen=True)
class WeightSuggestion:
    """One event type: its current and suggested weight, churn coefficient and status."""

    event_type: str
    current_weight: float | None
    suggested_weight: float | None
    churn_coefficient: float | None
    observations_with_type: int
    status: str
    """fitted | new (fitted, not in the config) | kept (configured, too little data: current
    weight kept) | skipped (not configured, too little data: no weight)"""


@dataclass(frozen=True)
class Calibration:
    """The outcome of the fit: suggested weights and how they were obtained."""

    weights: dict[str, float]
    suggestions: list[WeightSuggestion]
    fitted: bool
    note: str
    scale: float | None = None
    regularization_c: float | None = None
    class_weight: str | None = None
    train_observations: int = 0
    train_churned: int = 0
    inner_validation_auc: float | None = None
    warnings: list[str] = field(default_factory=list)

    def table(self) -> pl.DataFrame:
        """The suggestions as a frame (one row per event type)."""
        schema = {
            "event_type": pl.String,
            "current_weight": pl.Float64,
            "suggested_weight": pl.Float64,
            "churn_coefficient": pl.Float64,
            "observations_with_type": pl.Int64,
            "status": pl.String,
        }
        rows = [s.__dict__ for s in self.suggestions]
        return (
            pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
        )


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """`value` rounded to `digits` significant digits (0 stays 0)."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return 0.0
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def design_matrix(
    features: pl.DataFrame, labels: pl.DataFrame, event_types: Sequence[str]
) -> sparse.csr_matrix:
    """Rows = labels (in order), columns = event_types, values = feature values (sparse)."""
    rows = labels.select(OBSERVATION_DATE, "customer_id").with_row_index("row")
    columns = pl.DataFrame(
        {"event_type": list(event_types), "column": list(range(len(event_types)))},
        schema={"event_type": pl.String, "column": pl.UInt32},
    )
    cells = features.join(rows, on=[OBSERVATION_DATE, "customer_id"], how="inner").join(
        columns, on="event_type", how="inner"
    )
    return sparse.csr_matrix(
        (
            cells["value"].to_numpy().astype(np.float64),
            (cells["row"].to_numpy(), cells["column"].to_numpy()),
        ),
        shape=(labels.height, len(event_types)),
    )


def column_std(matrix: sparse.csr_matrix) -> np.ndarray:
    """Population standard deviation of every column of a sparse matrix (0 for a column that
    is constant up to floating-point noise)."""
    mean = np.asarray(matrix.mean(axis=0)).ravel()
    mean_square = np.asarray(matrix.multiply(matrix).mean(axis=0)).ravel()
    variance = mean_square - mean**2
    noise = 1e-12 * np.maximum(mean_square, 1.0)
    return np.where(variance > noise, np.sqrt(np.maximum(variance, 0.0)), 0.0)


def quantile_scale(suggested: np.ndarray, current: np.ndarray) -> float | None:
    """k > 0 minimizing sum over q in 5 %..95 % of (k x quantile_q(suggested) -
    quantile_q(current))^2, i.e. sum(q_s q_c) / sum(q_s^2); None when not positive."""
    if suggested.size == 0:
        return None
    q_suggested = np.quantile(suggested, SCALE_QUANTILES)
    q_current = np.quantile(current, SCALE_QUANTILES)
    denominator = float(np.dot(q_suggested, q_suggested))
    if denominator <= 0:
        return None
    k = float(np.dot(q_suggested, q_current)) / denominator
    return k if k > 0 and math.isfinite(k) else None


def _fit(
    x: sparse.csr_matrix, y: np.ndarray, c: float, class_weight: str | None
) -> tuple[np.ndarray, list[str]]:
    model = LogisticRegression(C=c, class_weight=class_weight, max_iter=2000)
    # one thread: small fits are many times slower when BLAS/OpenMP threads contend for cores
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1):
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    notes = [str(w.message).splitlines()[0] for w in caught if w.category is ConvergenceWarning]
    return model.coef_.ravel(), notes


def _auc(retained: np.ndarray, score: np.ndarray) -> float | None:
    if retained.all() or not retained.any():
        return None
    return float(roc_auc_score(retained, score))


def _inner_folds(
    customer_ids: np.ndarray, dates: np.ndarray, train_dates: Sequence[date], horizon_days: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validation folds inside the training rows: an inner time split of the training dates
    when one exists, else 3 folds grouped by customer (a customer is never on both sides)."""
    sample = np.ones(dates.size, dtype=bool)
    if dates.size > INNER_MAX_ROWS:
        sample[:] = False
        sample[np.random.default_rng(0).choice(dates.size, INNER_MAX_ROWS, replace=False)] = True
    split = time_split(train_dates, horizon_days)
    if split is not None:
        inner_train = np.isin(dates, np.array(split.train, dtype="datetime64[D]"))
        inner_test = np.isin(dates, np.array(split.test, dtype="datetime64[D]"))
        return [(inner_train & sample, inner_test & sample)]
    groups = np.unique(customer_ids, return_inverse=True)[1] % INNER_FOLDS
    return [((groups != fold) & sample, (groups == fold) & sample) for fold in range(INNER_FOLDS)]


def _choose_regularization(
    x: sparse.csr_matrix, churned: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[float, str | None, float | None]:
    """(C, class_weight, mean validation AUC) with the best mean AUC over the folds;
    (1.0, None, None) when no fold has both classes on both sides."""
    usable = [
        (fit, check)
        for fit, check in folds
        if len(set(churned[fit].tolist())) == 2 and len(set(churned[check].tolist())) == 2
    ]
    best: tuple[float, str | None, float | None] = (1.0, None, None)
    if not usable:
        return best
    best_auc = -1.0
    for class_weight in CLASS_WEIGHTS:
        for c in REGULARIZATION_GRID:
            aucs = []
            for fit, check in usable:
                coefficients, _ = _fit(x[fit], churned[fit], c, class_weight)
                aucs.append(_auc(~churned[check], x[check] @ -coefficients) or 0.5)
            auc = float(np.mean(aucs))
            if auc > best_auc + 1e-9:
                best, best_auc = (c, class_weight, auc), auc
    return best


def fit_suggested_weights(
    features: pl.DataFrame,
    labels: pl.DataFrame,
    train_dates: Sequence[date],
    horizon_days: int,
    current_weights: dict[str, float],
) -> Calibration:
    """Suggested weights from the training observations (see the module docstring).

    `features`: observation_date, customer_id, event_type, value; `labels`: observation_date,
    customer_id, churned. Rows of other dates are ignored.
    """
    train = pl.Series(list(train_dates), dtype=pl.Date)
    labels = labels.filter(pl.col(OBSERVATION_DATE).is_in(train.implode())).sort(
        OBSERVATION_DATE, "customer_id"
    )
    features = features.filter(pl.col(OBSERVATION_DATE).is_in(train.implode()))
    churned = labels["churned"].to_numpy().astype(bool)
    seen = (
        features.filter(pl.col("value") != 0)
        .group_by("event_type")
        .agg(pl.len().alias("observations"))
    )
    seen_count = dict(seen.iter_rows())
    all_types = sorted(set(seen_count) | set(current_weights))
    candidates = [t for t in all_types if seen_count.get(t, 0) >= MIN_CUSTOMERS_PER_TYPE]
    x_all = design_matrix(features, labels, candidates)
    std = column_std(x_all)
    fitted_types = [t for t, s in zip(candidates, std, strict=True) if s > 0]
    n_churned = int(churned.sum())
    n_retained = int(churned.size - n_churned)

    def suggestions(weights: dict[str, float], coefficients: dict[str, float]) -> list[Any]:
        rows = []
        for event_type in all_types:
            configured = event_type in current_weights
            if event_type in coefficients:
                status = "fitted" if configured else "new"
            else:
                status = "kept" if configured else "skipped"
            rows.append(
                WeightSuggestion(
                    event_type=event_type,
                    current_weight=current_weights.get(event_type),
                    suggested_weight=weights.get(event_type),
                    churn_coefficient=coefficients.get(event_type),
                    observations_with_type=seen_count.get(event_type, 0),
                    status=status,
                )
            )
        return rows

    not_fitted = None
    if n_churned < 2 or n_retained < 2:
        not_fitted = (
            f"not fitted: the training dates have {n_churned} churned and {n_retained} retained "
            "observations (at least 2 of each are needed); widen --from/--to or the horizon"
        )
    elif not fitted_types:
        not_fitted = (
            "not fitted: no event type varies across at least "
            f"{MIN_CUSTOMERS_PER_TYPE} training observations"
        )
    if not_fitted:
        return Calibration(
            weights=dict(current_weights),
            suggestions=suggestions(dict(current_weights), {}),
            fitted=False,
            note=not_fitted,
            train_observations=labels.height,
            train_churned=n_churned,
        )

    keep = [candidates.index(t) for t in fitted_types]
    x = x_all[:, keep]
    scale = std[keep]
    x_scaled = x @ sparse.diags(1.0 / scale)
    dates = labels[OBSERVATION_DATE].to_numpy().astype("datetime64[D]")
    folds = _inner_folds(labels["customer_id"].to_numpy(), dates, train_dates, horizon_days)
    c, class_weight, inner_auc = _choose_regularization(x_scaled.tocsr(), churned, folds)
    coefficients_scaled, fit_warnings = _fit(x_scaled.tocsr(), churned, c, class_weight)
    per_count = coefficients_scaled / scale
    raw_weights = -per_count

    current_vector = np.array([current_weights.get(t, 0.0) for t in candidates])
    current_scores = x_all @ current_vector
    k = quantile_scale(x @ raw_weights, current_scores)
    if k is None:
        # no usable quantiles (e.g. mostly zero scores): match the mean absolute score instead
        mean_raw = float(np.mean(np.abs(x @ raw_weights)))
        mean_current = float(np.mean(np.abs(current_scores)))
        k = mean_current / mean_raw if mean_raw > 0 and mean_current > 0 else None
    if k is None:
        largest = float(np.max(np.abs(raw_weights)))
        reference = max((abs(w) for w in current_weights.values()), default=1.0) or 1.0
        k = reference / largest if largest > 0 else 1.0
    weights = {t: round_significant(k * w) for t, w in zip(fitted_types, raw_weights, strict=True)}
    for event_type, weight in current_weights.items():
        weights.setdefault(event_type, weight)
    coefficients = dict(zip(fitted_types, per_count.tolist(), strict=True))
    ordered = {t: weights[t] for t in all_types if t in weights}
    return Calibration(
        weights=ordered,
        suggestions=suggestions(ordered, coefficients),
        fitted=True,
        note=f"fitted on {labels.height:,} training observations ({n_churned:,} churned)",
        scale=k,
        regularization_c=c,
        class_weight=class_weight,
        train_observations=labels.height,
        train_churned=n_churned,
        inner_validation_auc=inner_auc,
        warnings=fit_warnings,
    )
