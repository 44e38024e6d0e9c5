"""Warnings of a backtest: what makes its figures or its suggestion doubtful, in plain words.

- a choice at the edge of a grid (window, half-life, regularization): the best value may lie
  beyond it;
- a negative weight on the most frequent event type: the most active customers score lowest
  on it (often two collinear types sharing one signal);
- fewer churned observations in a period than `backtest.min_churners`: its AUC is uncertain;
- a churn rate within NEAR_CERTAIN of 0 % or 100 % on a date or a period: usually the end of
  the observation counted as churn (give --labels or observed_until), or a horizon too short;
- outside labels of customers without any event by their date (at least UNMATCHED_SHARE of
  them): often customer ids that differ between the labels and the events.
"""

from collections.abc import Mapping, Sequence

import polars as pl

from scoring.backtest.calibration import NEAR_CERTAIN, REGULARIZATION_GRID, Choice
from scoring.backtest.features import Setting
from scoring.backtest.observations import OBSERVATION_DATE

UNMATCHED_SHARE = 0.01


def grid_edge_warnings(
    choice: Choice, settings: Sequence[Setting], regularization_c: float | None
) -> list[str]:
    """The chosen window, half-life or regularization at the edge of what was tried."""
    if choice.keeps_current:
        return []
    found = []
    windows = sorted({s.window_days for s in settings})
    window = choice.setting.window_days
    if len(windows) > 1 and window in (windows[0], windows[-1]):
        side = "shortest" if window == windows[0] else "longest"
        found.append(
            f"the chosen window_days {window} is the {side} tried ({windows[0]}-{windows[-1]}): "
            "a better one may lie beyond; extend backtest.window_days_grid"
        )
    half_lives = sorted({s.half_life_days for s in settings if s.half_life_days is not None})
    half_life = choice.setting.half_life_days
    if half_life is not None and half_lives and half_life == half_lives[0]:
        found.append(
            f"the chosen half_life_days {half_life:g} is the shortest tried: a shorter one may "
            "do better; extend backtest.half_life_days_grid"
        )
    grid = REGULARIZATION_GRID
    if regularization_c is not None and regularization_c in (grid[0], grid[-1]):
        side = "strongest" if regularization_c == grid[0] else "weakest"
        found.append(
            f"the fit's regularization C = {regularization_c:g} is the {side} tried "
            f"({grid[0]:g}-{grid[-1]:g}): the fitted weights may be over- or under-shrunk"
        )
    return found


def most_frequent_type_warning(
    weights: Mapping[str, float], occurrences: Mapping[str, float]
) -> list[str]:
    """A negative suggested weight on the event type with the most occurrences."""
    weighted = {t: n for t, n in occurrences.items() if t in weights}
    if not weighted:
        return []
    most = max(sorted(weighted), key=lambda t: weighted[t])
    if weights[most] >= 0:
        return []
    return [
        f"the most frequent event type, {most}, gets a negative weight ({weights[most]:g}): the "
        "most active customers score lowest on it (often a collinear type taking its signal); "
        "check the tiers and follow-up rules before adopting the weights"
    ]


def churner_warnings(observations_per_period: pl.DataFrame, minimum: int) -> list[str]:
    """Periods (train, test) with fewer churned observations than `minimum`. Columns of the
    frame: period, customers, churned."""
    return [
        f"only {row['churned']:,} churned observation(s) on the {row['period']} dates (fewer "
        f"than {minimum}): the {row['period']} AUC is uncertain; widen --from/--to or the horizon"
        for row in observations_per_period.sort("period").iter_rows(named=True)
        if row["period"] in ("train", "test") and row["churned"] < minimum
    ]


def _near_certain(rate: pl.Expr) -> pl.Expr:
    return (rate <= NEAR_CERTAIN) | (rate >= 1 - NEAR_CERTAIN)


def churn_rate_warnings(per_date: pl.DataFrame, per_period: pl.DataFrame) -> list[str]:
    """Dates and the test period whose churn rate is near 0 % or 100 %. Columns: per_date:
    observation_date, customers, churned; per_period: period, customers, churned."""
    rate = pl.col("churned") / pl.col("customers")
    found = []
    test = per_period.filter((pl.col("period") == "test") & _near_certain(rate))
    for row in test.with_columns(rate.alias("rate")).iter_rows(named=True):
        found.append(
            f"the test period's churn rate is {row['rate']:.1%}: an AUC says little when nearly "
            "everyone (or no one) churns; is the end of the observation counted as churn? "
            "give --labels or an observed_until column"
        )
    dates = (
        per_date.filter(_near_certain(rate)).with_columns(rate.alias("rate")).sort(OBSERVATION_DATE)
    )
    if dates.height:
        listed = ", ".join(
            f"{d} ({r:.0%})" for d, r in dates.select(OBSERVATION_DATE, "rate").head(8).iter_rows()
        )
        more = f" and {dates.height - 8} more" if dates.height > 8 else ""
        found.append(
            f"churn rate near 0 % or 100 % on {dates.height} observation date(s): {listed}{more}; "
            "if customers are observed over their own periods (a course, a trial, a contract, an "
            "export cut-off), give --labels or an observed_until column"
        )
    return found


def unmatched_labels_warning(observations: int, without_events: int) -> list[str]:
    """Labelled observations of customers with no event by their date, when they are at least
    UNMATCHED_SHARE of them."""
    if not observations or without_events < UNMATCHED_SHARE * observations:
        return []
    return [
        f"{without_events:,} of {observations:,} labelled observations are of customers without "
        "any event by their date (they score 0): check that the labels' customer_id matches the "
        "events'"
    ]
