"""The backtest's split of observation dates in time: fit on earlier dates, evaluate on later.

Every training date's horizon ends on or before the first test date (D + horizon <= first test
date), so no label used for fitting looks into the evaluation period ("purged"); dates in
between are a gap, used for neither. The same rule splits the training dates again into an
inner training and an inner validation part, on which every candidate configuration is
compared: the test dates never choose anything.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl


@dataclass(frozen=True)
class TimeSplit:
    """Observation dates split in time: fit on `train`, evaluate on `test`; `gap` dates are
    neither (their horizon would overlap the test period)."""

    train: tuple[date, ...]
    test: tuple[date, ...]
    gap: tuple[date, ...]

    def period_of(self, day: date) -> str:
        """train, test or gap."""
        return "train" if day in self.train else "test" if day in self.test else "gap"

    def label_overlap_days(self, horizon_days: int) -> int:
        """Days by which the last training date's horizon runs into the test period (0 = none)."""
        return max(0, (self.train[-1] + timedelta(days=horizon_days) - self.test[0]).days)


def time_split(dates: Sequence[date], horizon_days: int) -> TimeSplit | None:
    """The split with the most dates on its smaller side (ties: more training dates).

    The test period starts at one of the dates; the training dates are those whose horizon ends
    by then. None when no split has at least one date on each side.
    """
    ordered = sorted(set(dates))
    best: tuple[tuple[int, int], TimeSplit] | None = None
    for first_test in ordered[1:]:
        train = tuple(d for d in ordered if d + timedelta(days=horizon_days) <= first_test)
        test = tuple(d for d in ordered if d >= first_test)
        if not train or not test:
            continue
        rank = (min(len(train), len(test)), len(train))
        if best is None or rank > best[0]:
            gap = tuple(d for d in ordered if d not in train and d not in test)
            best = (rank, TimeSplit(train=train, test=test, gap=gap))
    return best[1] if best else None


def split_in_time(
    dates: Sequence[date], horizon_days: int, what: str = "test"
) -> tuple[TimeSplit | None, list[str]]:
    """The purged time split, or, when the dates are too close for one, a plain split (training
    dates strictly before the `what` dates) with a note saying how much the horizons overlap;
    (None, []) with fewer than two dates."""
    split = time_split(dates, horizon_days)
    if split is not None:
        return split, []
    split = time_split(dates, 1)
    if split is None:
        return None, []
    return split, [
        f"the range is too short for training labels to end before the {what} dates: "
        f"the last training date's {horizon_days}-day horizon overlaps the {what} period "
        f"by {split.label_overlap_days(horizon_days)} day(s) (the fit still uses only "
        "earlier dates); for a clean out-of-time test widen --from/--to or lower --horizon"
    ]


HOLDOUT_SHARE = 3
"""With one training date, one customer in HOLDOUT_SHARE (by a hash) validates."""


def customer_holdout() -> pl.Expr:
    """Whether an observation's customer is held out for the inner validation when the
    training dates cannot be split in time: hash(customer_id) mod HOLDOUT_SHARE == 0 (a
    customer is never on both sides)."""
    return pl.col("customer_id").hash(seed=20260331) % HOLDOUT_SHARE == 0
