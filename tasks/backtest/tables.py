"""What a backtest computed: every figure as a frame, the fit and the split (the backtest
task computes them, the report shows them)."""

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from scoring.backtest import OBSERVATION_DATE, TimeSplit
from scoring.config import ScoringConfig
from tasks.backtest.calibrate import Calibration

WEIGHT_SETS = ("current", "suggested", "uniform")
"""current = the configuration's weights; suggested = fitted; uniform = 1 for every configured
event type (the naive baseline)."""


@dataclass
class BacktestTables:
    """Every figure of a backtest as a frame (written as Parquet) plus the fit."""

    observations: pl.DataFrame
    auc: pl.DataFrame
    tiers: pl.DataFrame
    roc: pl.DataFrame
    weights: pl.DataFrame
    segment_auc: pl.DataFrame | None
    segment_tiers: pl.DataFrame | None
    calibration: Calibration
    split: TimeSplit
    suggested_config: ScoringConfig
    dropped_dates: list[date] = field(default_factory=list)
    empty_dates: list[date] = field(default_factory=list)
    skipped_segment_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def headline_auc(tables: BacktestTables, period: str = "test") -> dict[str, float | None]:
    """Pooled AUC of each weight set over the period (default: out of time)."""
    pooled = tables.auc.filter(pl.col(OBSERVATION_DATE).is_null() & (pl.col("period") == period))
    found = dict(pooled.select("weights", "auc").iter_rows())
    return {name: found.get(name) for name in WEIGHT_SETS}
