"""Everything a backtest found, as frames and a few values: what the report, the CLI summary and
suggested_config.yaml are made of (read by tasks.backtest.run and tasks.backtest.report)."""

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from scoring.backtest.calibration import WEIGHT_SETS, Calibration
from scoring.backtest.observations import OBSERVATION_DATE
from scoring.backtest.split import TimeSplit
from scoring.config import ScoringConfig


@dataclass
class BacktestTables:
    """Every figure of a backtest as a frame (written as Parquet) plus the calibration."""

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
    current_config: ScoringConfig
    labels_source: str = "silence"
    """`silence` (no event in the horizon, or a churn event type) or the labels file."""
    beyond_observation: pl.DataFrame | None = None
    """observation_date, dropped: observations whose horizon ran past observed_until."""
    rule_evidence: pl.DataFrame | None = None
    tier_note: str = ""
    dropped_dates: list[date] = field(default_factory=list)
    empty_dates: list[date] = field(default_factory=list)
    skipped_segment_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def candidates(self) -> pl.DataFrame:
        """Every candidate configuration's inner validation AUC."""
        return self.calibration.candidates

    @property
    def dropped_observations(self) -> int:
        """Observations dropped because the customer's observation ended within the horizon."""
        frame = self.beyond_observation
        return int(frame["dropped"].sum()) if frame is not None and frame.height else 0


def headline_auc(tables: BacktestTables, period: str = "test") -> dict[str, float | None]:
    """Pooled AUC of each weight set over the period (default: out of time)."""
    pooled = tables.auc.filter(pl.col(OBSERVATION_DATE).is_null() & (pl.col("period") == period))
    found = dict(pooled.select("weights", "auc").iter_rows())
    return {name: found.get(name) for name in WEIGHT_SETS}
