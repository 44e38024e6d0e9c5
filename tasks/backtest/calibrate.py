"""The backtest's fit: a regularized logistic regression of churn on per-event-type features
(scikit-learn), for every candidate setting, and the calibration that chooses what to suggest.

The policy (candidates, the choice that never suggests worse, scaling, rounding, warnings) is
in scoring.backtest.calibration; this module is its adapter to scikit-learn:

1. the training dates are split again in time (scoring.backtest.split): inner training and
   inner validation dates (one training date: a third of its customers, by a hash, validate);
2. features of a seeded sample of both (GRID_MAX_ROWS each) are computed for every setting in
   one pass over the daily counts (scoring.backtest.features);
3. per setting, the fit (C = DEFAULT_REGULARIZATION, balanced classes) on the inner training
   rows: every event type seen for at least MIN_CUSTOMERS_PER_TYPE of them with some variation,
   its feature divided by its standard deviation; per-count churn coefficients beta_t give
   raw weights -beta_t;
4. every candidate (fitted / current / uniform weights x setting) scored by its ROC AUC on the
   inner validation rows; for the best fitted setting the strength C and class weighting are
   tuned over REGULARIZATION_GRID x CLASS_WEIGHTS on the same rows;
5. the choice (scoring.backtest.calibration.choose_candidate); fitted weights are refitted on
   all training dates (a sample of FIT_MAX_ROWS) with the tuned C, scaled and rounded.
"""

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from scoring.backtest.calibration import (
    CLASS_WEIGHTS,
    DEFAULT_REGULARIZATION,
    REGULARIZATION_GRID,
    fittable_types,
)
from scoring.backtest.observations import OBSERVATION_DATE

GRID_MAX_ROWS = 150_000
"""Inner training (and inner validation) rows compared per candidate: a seeded sample above."""
FIT_MAX_ROWS = 300_000
"""Training rows of the final fit: a seeded sample above."""
KEYS = [OBSERVATION_DATE, "customer_id"]
MIN_AUC_GAIN = 1e-4
"""A regularization other than the default must raise the inner AUC by more than this."""


def sample_rows(rows: pl.DataFrame, limit: int) -> pl.DataFrame:
    """At most `limit` rows, a seeded sample (the same rows for the same input), in key order."""
    if rows.height <= limit:
        return rows
    return rows.sort(KEYS).sample(n=limit, seed=0).sort(KEYS)


@dataclass(frozen=True)
class Design:
    """Labelled rows' features ready for sparse matrices: the (row, event type) cells with
    every value column, built once and sliced per setting."""

    event_types: list[str]
    rows: int
    row: np.ndarray
    column: np.ndarray
    values: dict[str, np.ndarray]
    churned: np.ndarray

    @classmethod
    def of(
        cls,
        features: pl.DataFrame,
        labels: pl.DataFrame,
        event_types: Sequence[str],
        values: Sequence[str],
    ) -> "Design":
        """Rows = labels (in order), columns = event_types."""
        rows = labels.select(KEYS).with_row_index("row")
        columns = pl.DataFrame(
            {"event_type": list(event_types), "column": list(range(len(event_types)))},
            schema={"event_type": pl.String, "column": pl.UInt32},
        )
        cells = features.join(rows, on=KEYS, how="inner").join(columns, on="event_type")
        return cls(
            event_types=list(event_types),
            rows=labels.height,
            row=cells["row"].to_numpy(),
            column=cells["column"].to_numpy(),
            values={v: cells[v].to_numpy().astype(np.float64) for v in values},
            churned=labels["churned"].to_numpy().astype(bool),
        )

    def matrix(self, value: str) -> sparse.csr_matrix:
        """The rows x event types matrix of one value column."""
        return sparse.csr_matrix(
            (self.values[value], (self.row, self.column)),
            shape=(self.rows, len(self.event_types)),
        )


def design_matrix(
    features: pl.DataFrame, labels: pl.DataFrame, event_types: Sequence[str], value: str = "value"
) -> sparse.csr_matrix:
    """Rows = labels (in order), columns = event_types, values = the `value` column (sparse)."""
    return Design.of(features, labels, event_types, [value]).matrix(value)


def column_std(matrix: sparse.csr_matrix) -> np.ndarray:
    """Population standard deviation of every column of a sparse matrix (0 for a column that
    is constant up to floating-point noise)."""
    mean = np.asarray(matrix.mean(axis=0)).ravel()
    mean_square = np.asarray(matrix.multiply(matrix).mean(axis=0)).ravel()
    variance = mean_square - mean**2
    noise = 1e-12 * np.maximum(mean_square, 1.0)
    return np.where(variance > noise, np.sqrt(np.maximum(variance, 0.0)), 0.0)


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


def auc_of(churned: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC of the score against retention; None with one class only."""
    if churned.all() or not churned.any():
        return None
    return float(roc_auc_score(~churned, score))


@dataclass(frozen=True)
class ChurnFit:
    """Raw weights (-beta per count) and coefficients of the fitted event types."""

    weights: dict[str, float]
    coefficients: dict[str, float]
    warnings: list[str]


def two_classes(churned: np.ndarray) -> bool:
    """At least two churned and two retained rows: something to fit."""
    count = int(churned.sum())
    return count >= 2 and churned.size - count >= 2


def churn_fit(design: Design, value: str, c: float, class_weight: str | None) -> ChurnFit:
    """The logistic fit on the `value` feature of the types that vary over the design's rows."""
    x = design.matrix(value)
    std = column_std(x)
    keep = np.flatnonzero(std > 0)
    if keep.size == 0 or not two_classes(design.churned):
        return ChurnFit({}, {}, [])
    scaled = (x[:, keep] @ sparse.diags(1.0 / std[keep])).tocsr()
    coefficients, notes = _fit(scaled, design.churned, c, class_weight)
    per_count = coefficients / std[keep]
    kept = [design.event_types[i] for i in keep]
    return ChurnFit(
        weights=dict(zip(kept, (-per_count).tolist(), strict=True)),
        coefficients=dict(zip(kept, per_count.tolist(), strict=True)),
        warnings=notes,
    )


def observed_types(
    features: pl.DataFrame,
    labels: pl.DataFrame,
    values: Sequence[str],
    current: Mapping[str, float],
) -> tuple[dict[str, int], list[str], list[str]]:
    """(observations with each event type among the labels' rows, every type seen or
    configured, the fittable ones: see scoring.backtest.calibration.fittable_types)."""
    present = features.join(labels.select(KEYS), on=KEYS, how="semi").filter(
        pl.any_horizontal(pl.col(v) != 0 for v in values)
    )
    seen = dict(present.group_by("event_type").agg(pl.len()).iter_rows())
    x = design_matrix(present, labels, sorted(seen), values[-1])
    variable = [t for t, s in zip(sorted(seen), column_std(x), strict=True) if s > 0]
    every, fitted = fittable_types(seen, variable, current)
    return seen, every, fitted


def regularization_order() -> list[tuple[float, str | None]]:
    """(C, class_weight) pairs in the order they are tried: the default first, then by distance
    from it in the grid (balanced classes first at each strength)."""

    def distance(c: float) -> float:
        return abs(np.log10(c) - np.log10(DEFAULT_REGULARIZATION))

    strengths = sorted(REGULARIZATION_GRID, key=lambda c: (distance(c), c))
    return [(c, class_weight) for c in strengths for class_weight in CLASS_WEIGHTS]


def fitted_auc(fit: ChurnFit, check: Design, value: str) -> float | None:
    """The AUC of a fit's raw weights on the check rows."""
    weights = np.array([fit.weights.get(t, 0.0) for t in check.event_types])
    return auc_of(check.churned, check.matrix(value) @ weights)


def tuned_regularization(
    fit_rows: Design, check_rows: Design, value: str
) -> tuple[float, str | None, float | None]:
    """(C, class_weight, inner validation AUC) of REGULARIZATION_GRID x CLASS_WEIGHTS: tried in
    regularization_order, a pair replaces the best so far only when it raises the AUC by more
    than MIN_AUC_GAIN (so the default holds unless another strength clearly helps)."""
    best: tuple[float, str | None, float | None] = (DEFAULT_REGULARIZATION, CLASS_WEIGHTS[0], None)
    for c, class_weight in regularization_order():
        fit = churn_fit(fit_rows, value, c, class_weight)
        auc = fitted_auc(fit, check_rows, value) if fit.weights else None
        if auc is not None and (best[2] is None or auc > best[2] + MIN_AUC_GAIN):
            best = (c, class_weight, auc)
    return best


def dates_in(rows: pl.DataFrame, dates: Sequence[date]) -> pl.DataFrame:
    """The rows of the given observation dates."""
    return rows.filter(
        pl.col(OBSERVATION_DATE).is_in(pl.Series(list(dates), dtype=pl.Date).implode())
    )
