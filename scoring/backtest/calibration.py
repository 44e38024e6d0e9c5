"""The backtest's calibration policy: which candidate configuration to suggest, how the fitted
weights are scaled and rounded, and what to warn about. The logistic fit itself is an adapter
(tasks/backtest/calibrate.py); these rules are pure.

Candidates: for every setting (window, half-life; scoring.backtest.features) three weight sets,
*fitted* (a logistic regression of churn on the setting's features of the inner training dates),
*current* (the configured weights) and *uniform* (1 for every configured event type). Each is
scored by its ROC AUC on the inner validation dates. The suggestion is the candidate with the
highest AUC there; on a tie the configuration as it is wins, then fitted, current and uniform
weights in that order. So the suggestion never scores below the current configuration, nor below
uniform weights with the current window and half-life, on the inner validation dates; when the
current configuration is best it is kept and the report says why.

Fitted weights: per-count churn coefficients beta_t become raw weights -beta_t (higher score =
less churn), multiplied by the k > 0 that best matches the quantiles (5 %, 10 %, ..., 95 %) of
the suggested scores to those of the current scores on the training observations (least squares
through the origin: k = sum(q_s q_c) / sum(q_s^2)), so the configured tiers keep their meaning;
then rounded to 4 significant digits.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from scoring.backtest.features import Setting

MIN_CUSTOMERS_PER_TYPE = 5
"""An event type is fitted only when seen for at least this many training observations."""
REGULARIZATION_GRID = (0.0001, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
"""Inverse L2 strengths C tried for the chosen setting (features divided by their std)."""
DEFAULT_REGULARIZATION = 1.0
"""C of the fits that compare the settings (the strength is tuned for the best one only)."""
CLASS_WEIGHTS: tuple[str | None, ...] = ("balanced", None)
SCALE_QUANTILES = tuple(q / 20 for q in range(1, 20))
SIGNIFICANT_DIGITS = 4
WEIGHT_SETS = ("current", "suggested", "uniform")
"""current = the configuration as given; suggested = the chosen candidate; uniform = 1 for
every configured event type with the configured window and half-life (the naive baseline)."""
CANDIDATE_PREFERENCE = ("fitted", "current", "uniform")
NEAR_CERTAIN = 0.03
"""A churn rate within this of 0 % or 100 % is suspicious (a warning)."""


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
    weight kept) | skipped (not configured, too little data: no weight) | current / uniform
    (configured; those weights were chosen)"""


@dataclass(frozen=True)
class Choice:
    """The chosen candidate: its weight set (current / fitted / uniform), setting and why."""

    weights: str
    setting: Setting
    inner_auc: float | None
    reason: str
    keeps_current: bool = False


@dataclass(frozen=True)
class Calibration:
    """The outcome of the calibration: suggested weights and setting, and how they were found."""

    weights: dict[str, float]
    setting: Setting
    choice: Choice
    suggestions: list[WeightSuggestion]
    fitted: bool
    note: str
    candidates: pl.DataFrame
    scale: float | None = None
    regularization_c: float | None = None
    class_weight: str | None = None
    train_observations: int = 0
    train_churned: int = 0
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """How the candidates were compared when the training dates allow no clean inner split."""

    def table(self) -> pl.DataFrame:
        """The weight suggestions as a frame (one row per event type)."""
        schema = {
            "event_type": pl.String,
            "current_weight": pl.Float64,
            "suggested_weight": pl.Float64,
            "churn_coefficient": pl.Float64,
            "observations_with_type": pl.Int64,
            "status": pl.String,
        }
        rows = [s.__dict__ for s in self.suggestions]
        return pl.DataFrame(rows, schema=schema, orient="row")


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """`value` rounded to `digits` significant digits (0 stays 0)."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return 0.0
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def quantile_scale(suggested: pl.Series, current: pl.Series) -> float | None:
    """k > 0 minimizing sum over q in 5 %..95 % of (k x quantile_q(suggested) -
    quantile_q(current))^2, i.e. sum(q_s q_c) / sum(q_s^2); None when not positive."""
    if suggested.len() == 0:
        return None
    q_suggested = [suggested.quantile(q, "linear") or 0.0 for q in SCALE_QUANTILES]
    q_current = [current.quantile(q, "linear") or 0.0 for q in SCALE_QUANTILES]
    denominator = sum(s * s for s in q_suggested)
    if denominator <= 0:
        return None
    k = sum(s * c for s, c in zip(q_suggested, q_current, strict=True)) / denominator
    return k if k > 0 and math.isfinite(k) else None


def scale_factor(
    suggested: pl.Series,
    current: pl.Series,
    raw_weights: Sequence[float],
    current_weights: Sequence[float],
) -> float:
    """The k of the module docstring; when the quantiles give none (e.g. mostly zero scores),
    the k matching the mean absolute scores, else the largest absolute current weight over
    the largest absolute raw weight (1 when there is nothing to match)."""
    k = quantile_scale(suggested, current)
    if k is not None:
        return k
    mean_suggested = float(suggested.abs().sum()) / max(suggested.len(), 1)
    mean_current = float(current.abs().sum()) / max(current.len(), 1)
    if mean_suggested > 0 and mean_current > 0:
        return mean_current / mean_suggested
    largest = max((abs(w) for w in raw_weights), default=0.0)
    reference = max((abs(w) for w in current_weights), default=1.0) or 1.0
    return reference / largest if largest > 0 else 1.0


def fittable_types(
    seen: Mapping[str, int], variable: Sequence[str], current_weights: Mapping[str, float]
) -> tuple[list[str], list[str]]:
    """(every event type seen or configured, sorted; those fitted: seen for at least
    MIN_CUSTOMERS_PER_TYPE training observations with some variation)."""
    every = sorted(set(seen) | set(current_weights))
    return every, [t for t in every if seen.get(t, 0) >= MIN_CUSTOMERS_PER_TYPE and t in variable]


def weight_suggestions(
    every: Sequence[str],
    weights: Mapping[str, float],
    coefficients: Mapping[str, float],
    current_weights: Mapping[str, float],
    seen: Mapping[str, int],
    chosen: str = "fitted",
) -> list[WeightSuggestion]:
    """One WeightSuggestion per event type (see its status; with `chosen` current or uniform
    weights, configured types have that status)."""
    rows = []
    for event_type in every:
        configured = event_type in current_weights
        if chosen != "fitted":
            status = chosen if configured else "skipped"
        elif event_type in coefficients:
            status = "fitted" if configured else "new"
        else:
            status = "kept" if configured else "skipped"
        rows.append(
            WeightSuggestion(
                event_type=event_type,
                current_weight=current_weights.get(event_type),
                suggested_weight=weights.get(event_type),
                churn_coefficient=coefficients.get(event_type),
                observations_with_type=seen.get(event_type, 0),
                status=status,
            )
        )
    return rows


def suggested_weights(
    raw_weights: Mapping[str, float],
    scale: float,
    current_weights: Mapping[str, float],
    every: Sequence[str],
) -> dict[str, float]:
    """k x the raw weights, rounded (round_significant); configured types that were not fitted
    keep their current weight; in the order of `every`."""
    weights = {t: round_significant(scale * w) for t, w in raw_weights.items()}
    for event_type, weight in current_weights.items():
        weights.setdefault(event_type, weight)
    return {t: weights[t] for t in every if t in weights}


def _preference(row: Mapping[str, object], current: Setting) -> tuple[int, int, int]:
    """Ties: the configuration as it is, then fitted / current / uniform weights, then the
    configured setting, then the grid's order (lower is preferred)."""
    setting = Setting(int(row["window_days"]), row["half_life_days"])  # type: ignore[call-overload, arg-type]
    as_is = row["weights"] == "current" and setting == current
    return (
        0 if as_is else 1,
        CANDIDATE_PREFERENCE.index(str(row["weights"])),
        0 if setting == current else 1,
    )


def _auc_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def choose_candidate(candidates: pl.DataFrame, current: Setting) -> Choice:
    """The candidate to suggest (see the module docstring). `candidates`: weights,
    window_days, half_life_days, inner_auc (null when the inner validation has one class)."""
    rows = candidates.to_dicts()
    baseline = {
        r["weights"]: r["inner_auc"]
        for r in rows
        if Setting(r["window_days"], r["half_life_days"]) == current and r["weights"] != "fitted"
    }
    scored = [r for r in rows if r["inner_auc"] is not None]
    if not scored:
        return Choice(
            "current",
            current,
            None,
            "kept the current configuration: the inner validation dates have no churned or "
            "no retained observation to compare candidates on",
            keeps_current=True,
        )
    best = min(scored, key=lambda r: (-r["inner_auc"], *_preference(r, current)))
    setting = Setting(best["window_days"], best["half_life_days"])
    others = (
        f"current configuration {_auc_text(baseline.get('current'))}, uniform weights "
        f"{_auc_text(baseline.get('uniform'))}"
    )
    if best["weights"] == "current" and setting == current:
        runner_up = [r for r in scored if r is not best]
        second = min(
            runner_up, key=lambda r: (-r["inner_auc"], *_preference(r, current)), default=None
        )
        return Choice(
            "current",
            current,
            best["inner_auc"],
            f"kept the current configuration: no candidate scored above it on the inner "
            f"validation dates ({others}"
            + (
                f"; best other: {second['weights']} weights, "
                f"{Setting(second['window_days'], second['half_life_days']).label}, "
                f"{_auc_text(second['inner_auc'])})"
                if second
                else ")"
            ),
            keeps_current=True,
        )
    return Choice(
        best["weights"],
        setting,
        best["inner_auc"],
        f"{best['weights']} weights, {setting.label}: inner validation AUC "
        f"{_auc_text(best['inner_auc'])} ({others})",
    )
