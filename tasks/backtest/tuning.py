"""Tuning of the whole scoring configuration on the training dates: every candidate (fitted,
current and uniform weights x window and half-life) compared on the inner validation dates,
the choice, and the suggested weights (see tasks.backtest.calibrate for the steps).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from scoring.backtest.calibration import (
    CLASS_WEIGHTS,
    DEFAULT_REGULARIZATION,
    Calibration,
    Choice,
    choose_candidate,
    scale_factor,
    suggested_weights,
    weight_suggestions,
)
from scoring.backtest.features import (
    KEYS,
    Setting,
    candidate_settings,
    features_over,
    scores_of,
    value_column,
)
from scoring.backtest.figures import column_aucs
from scoring.backtest.split import TimeSplit, customer_holdout, split_in_time
from scoring.config import ScoringConfig
from tasks.backtest.calibrate import (
    FIT_MAX_ROWS,
    GRID_MAX_ROWS,
    ChurnFit,
    Design,
    churn_fit,
    dates_in,
    observed_types,
    sample_rows,
    tuned_regularization,
)

CANDIDATES = pl.Schema(
    {
        "weights": pl.String(),
        "window_days": pl.Int64(),
        "half_life_days": pl.Float64(),
        "inner_auc": pl.Float64(),
        "regularization_c": pl.Float64(),
        "class_weight": pl.String(),
    }
)


@dataclass(frozen=True)
class InnerSplit:
    """The training rows the candidates are fitted on and those they are compared on; a
    warning when their labels overlap, a note when customers, not dates, are split."""

    fit_rows: pl.DataFrame
    check_rows: pl.DataFrame
    warnings: list[str]
    notes: list[str]


def inner_split(
    train_rows: pl.DataFrame, train_dates: Sequence[date], horizon_days: int
) -> InnerSplit:
    """The training dates split in time again (purged when they allow), else, with one training
    date, its customers split by a hash (scoring.backtest.split.customer_holdout)."""
    split, overlaps = split_in_time(train_dates, horizon_days, "inner validation")
    notes = []
    if split is not None:
        fit, check = dates_in(train_rows, split.train), dates_in(train_rows, split.test)
    else:
        held = train_rows.with_columns(customer_holdout().alias("held"))
        fit, check = held.filter(~pl.col("held")).drop("held"), held.filter("held").drop("held")
        notes = ["one training date: the candidates are compared on a third of its customers"]
    return InnerSplit(
        sample_rows(fit, GRID_MAX_ROWS), sample_rows(check, GRID_MAX_ROWS), overlaps, notes
    )


def uniform_weights(config: ScoringConfig) -> dict[str, float]:
    """1 for every configured event type."""
    return dict.fromkeys(config.weights, 1.0)


def candidate_aucs(
    check_rows: pl.DataFrame,
    features: pl.DataFrame,
    scorers: Sequence[tuple[str, int, Mapping[str, float]]],
    settings: Sequence[Setting],
) -> pl.DataFrame:
    """weights, window_days, half_life_days, inner_auc of every scorer (weight set name,
    setting index, weights) on the check rows."""
    scored = scores_of(check_rows.lazy(), features.lazy(), [(i, w) for _, i, w in scorers])
    names = [f"score_{k}" for k in range(len(scorers))]
    aucs = column_aucs(scored, names).collect().row(0, named=True)
    return pl.DataFrame(
        [
            {
                "weights": name,
                "window_days": settings[i].window_days,
                "half_life_days": settings[i].half_life_days,
                "inner_auc": aucs.get(f"score_{k}"),
                "regularization_c": DEFAULT_REGULARIZATION if name == "fitted" else None,
                "class_weight": CLASS_WEIGHTS[0] if name == "fitted" else None,
            }
            for k, (name, i, _) in enumerate(scorers)
        ],
        schema=CANDIDATES,
    )


@dataclass(frozen=True)
class Grid:
    """Every candidate's inner AUC and what the choice and the refit need."""

    candidates: pl.DataFrame
    choice: Choice
    settings: list[Setting]
    every_type: list[str]
    fitted_types: list[str]
    seen: dict[str, int]
    regularization: tuple[float, str | None]


def scorers_of(
    fits: Sequence[ChurnFit], config: ScoringConfig, settings: Sequence[Setting]
) -> list[tuple[str, int, Mapping[str, float]]]:
    """(weight set, setting index, weights) of every candidate: the fits (one per setting),
    the current and the uniform weights at every setting."""
    fixed = (("current", dict(config.weights)), ("uniform", uniform_weights(config)))
    return [("fitted", i, fit.weights) for i, fit in enumerate(fits) if fit.weights] + [
        (name, i, weights) for name, weights in fixed for i in range(len(settings))
    ]


def with_tuned_best(
    candidates: pl.DataFrame, settings: Sequence[Setting], fit_rows: Design, check_rows: Design
) -> tuple[pl.DataFrame, tuple[float, str | None]]:
    """The candidates with the best fitted setting's AUC after tuning its regularization
    (tasks.backtest.calibrate.tuned_regularization), and that regularization."""
    fitted = candidates.filter((pl.col("weights") == "fitted") & pl.col("inner_auc").is_not_null())
    if not fitted.height:
        return candidates, (DEFAULT_REGULARIZATION, CLASS_WEIGHTS[0])
    best = fitted.sort("inner_auc", descending=True, maintain_order=True).row(0, named=True)
    index = settings.index(Setting(best["window_days"], best["half_life_days"]))
    c, class_weight, auc = tuned_regularization(fit_rows, check_rows, value_column(index))
    is_best = (
        (pl.col("weights") == "fitted")
        & (pl.col("window_days") == best["window_days"])
        & pl.col("half_life_days").eq_missing(best["half_life_days"])
    )
    tuned = {"inner_auc": auc, "regularization_c": c, "class_weight": class_weight}
    return candidates.with_columns(
        pl.when(is_best).then(pl.lit(value)).otherwise(pl.col(name)).alias(name)
        for name, value in tuned.items()
    ), (c, class_weight)


def evaluate_grid(daily: pl.LazyFrame, inner: InnerSplit, config: ScoringConfig) -> Grid:
    """Fit per setting on the inner training rows, compare every candidate on the inner
    validation rows, tune the regularization of the best fitted setting, choose."""
    settings = candidate_settings(config, config.backtest_settings)
    rows = pl.concat([inner.fit_rows, inner.check_rows]).unique(KEYS).sort(KEYS)
    dates = rows[KEYS[0]].unique().sort().to_list()
    features = features_over(daily, rows.lazy(), settings, dates).collect()
    values = [value_column(i) for i in range(len(settings))]
    seen, every, fitted_types = observed_types(features, inner.fit_rows, values, config.weights)
    fit_rows = Design.of(features, inner.fit_rows, fitted_types, values)
    check_rows = Design.of(features, inner.check_rows, fitted_types, values)
    fits = [
        churn_fit(fit_rows, value, DEFAULT_REGULARIZATION, CLASS_WEIGHTS[0]) for value in values
    ]
    candidates = candidate_aucs(
        inner.check_rows, features, scorers_of(fits, config, settings), settings
    )
    candidates, regularization = with_tuned_best(candidates, settings, fit_rows, check_rows)
    choice = choose_candidate(candidates, Setting.of(config))
    return Grid(candidates, choice, settings, every, fitted_types, seen, regularization)


def refitted(
    daily: pl.LazyFrame, train_rows: pl.DataFrame, grid: Grid, config: ScoringConfig
) -> tuple[dict[str, float], dict[str, float], float | None, list[str]]:
    """(suggested weights, churn coefficients, scale k, fit warnings) of the chosen setting,
    refitted on (a sample of) every training row with the tuned regularization."""
    rows = sample_rows(train_rows, FIT_MAX_ROWS)
    settings = [grid.choice.setting, Setting.of(config)]
    dates = rows[KEYS[0]].unique().sort().to_list()
    features = features_over(daily, rows.lazy(), settings, dates).collect()
    c, class_weight = grid.regularization
    design = Design.of(features, rows, grid.fitted_types, [value_column(0)])
    fit = churn_fit(design, value_column(0), c, class_weight)
    if not fit.weights:
        return dict(config.weights), {}, None, fit.warnings
    scorers = [(0, fit.weights), (1, dict(config.weights))]
    scored = scores_of(rows.lazy(), features.lazy(), scorers).collect()
    k = scale_factor(
        scored["score_0"],
        scored["score_1"],
        list(fit.weights.values()),
        list(config.weights.values()),
    )
    weights = suggested_weights(fit.weights, k, config.weights, grid.every_type)
    return weights, fit.coefficients, k, fit.warnings


def calibrate(
    daily: pl.LazyFrame,
    observations: pl.DataFrame,
    split: TimeSplit,
    horizon_days: int,
    config: ScoringConfig,
) -> Calibration:
    """The suggested configuration's weights and setting from the training dates only."""
    train_rows = dates_in(observations, split.train)
    inner = inner_split(train_rows, split.train, horizon_days)
    grid = evaluate_grid(daily, inner, config)
    choice = grid.choice
    coefficients: dict[str, float] = {}
    scale = None
    fit_warnings: list[str] = []
    if choice.weights == "fitted":
        weights, coefficients, scale, fit_warnings = refitted(daily, train_rows, grid, config)
    elif choice.weights == "uniform":
        weights = uniform_weights(config)
    else:
        weights = dict(config.weights)
    churned = int(train_rows["churned"].sum())
    return Calibration(
        weights=weights,
        setting=choice.setting,
        choice=choice,
        suggestions=weight_suggestions(
            grid.every_type, weights, coefficients, config.weights, grid.seen, choice.weights
        ),
        fitted=bool(coefficients),
        note=(
            f"{choice.reason}; training dates: {train_rows.height:,} observations "
            f"({churned:,} churned)"
        ),
        candidates=grid.candidates,
        scale=scale,
        regularization_c=grid.regularization[0] if coefficients else None,
        class_weight=grid.regularization[1] if coefficients else None,
        train_observations=train_rows.height,
        train_churned=churned,
        warnings=inner.warnings + fit_warnings,
        notes=inner.notes,
    )
