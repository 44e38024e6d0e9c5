"""Backtest task: read the validated events and the backtest's own inputs, compute the backtest
(tasks.backtest.compute), write `<output>/backtest/*.parquet`, its report and
`<output>/suggested_config.yaml`."""

import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.backtest.observations import OBSERVATION_DATE
from scoring.backtest.outcome import BacktestTables, headline_auc
from scoring.config import ScoringConfig
from tasks.backtest.compute import compute_backtest
from tasks.backtest.inputs import BacktestInputError, read_labels
from tasks.backtest.report import render_report
from tasks.backtest.rules import METRIC_COLUMNS
from tasks.backtest.suggested import suggested_config_text
from tasks.extract.customers import read_customers

BACKTEST_DIR = "backtest"
SUGGESTED_CONFIG = "suggested_config.yaml"


def refuse_overwriting(config_source: str | None, output: str | Path) -> None:
    """Raise when the suggested configuration would replace the user's configuration file."""
    suggested = Path(output) / SUGGESTED_CONFIG
    if config_source and suggested.resolve() == Path(config_source).resolve():
        raise BacktestInputError(
            f"{config_source}: the suggested configuration would overwrite it; "
            "choose another --output directory"
        )


def write_tables(tables: BacktestTables, directory: Path) -> list[Path]:
    """Every figure as `<directory>/<name>.parquet`; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    frames: dict[str, pl.DataFrame | None] = {
        "observations": tables.observations.sort("weights", OBSERVATION_DATE, "customer_id"),
        "auc": tables.auc,
        "tiers": tables.tiers,
        "roc": tables.roc,
        "weights": tables.weights,
        "candidates": tables.candidates,
        "beyond_observation": tables.beyond_observation,
        "rule_evidence": tables.rule_evidence,
        "segment_auc": tables.segment_auc,
        "segment_tiers": tables.segment_tiers,
    }
    written = []
    for name, frame in frames.items():
        if frame is not None:
            path = directory / f"{name}.parquet"
            frame.write_parquet(path, compression="zstd")
            written.append(path)
    return written


def replace_directory(staged: Path, target: Path) -> None:
    """Swap a fully written directory into place (the old one is removed afterwards)."""
    old = target.with_name(f".{target.name}-old-{uuid.uuid4().hex[:8]}")
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)


@dataclass(frozen=True)
class BacktestReport:
    """What the backtest produced (small: returned by the flow, printed by the CLI)."""

    output: str
    report_path: str
    suggested_config_path: str
    tables: list[str]
    labels_source: str
    train_dates: list[date]
    test_dates: list[date]
    gap_dates: list[date]
    dropped_dates: list[date]
    empty_dates: list[date]
    dropped_observations: int
    auc_test: dict[str, float | None]
    auc_train: dict[str, float | None]
    observations: int
    churned: int
    choice: dict[str, Any]
    candidates: list[dict[str, Any]]
    tiers_test: list[dict[str, Any]]
    suggested_tiers: dict[str, Any]
    tier_note: str
    weights: list[dict[str, Any]]
    rule_evidence_test: list[dict[str, Any]]
    calibration_note: str
    warnings: list[str]
    skipped_segment_columns: list[str]
    notes: list[str]


def pooled(frame: pl.DataFrame, period: str = "test") -> pl.DataFrame:
    """The rows of a figure pooled over a period (observation_date null)."""
    return frame.filter(pl.col(OBSERVATION_DATE).is_null() & (pl.col("period") == period))


def backtest_report(
    tables: BacktestTables, root: Path, target: Path, written: list[Path], suggested_path: Path
) -> BacktestReport:
    """The summary of a written backtest."""
    test_current = pooled(tables.auc).filter(pl.col("weights") == "current")
    choice = tables.calibration.choice
    evidence = tables.rule_evidence
    return BacktestReport(
        output=str(root),
        report_path=str(target / "report.html"),
        suggested_config_path=str(suggested_path),
        tables=[str(target / p.name) for p in written],
        labels_source=tables.labels_source,
        train_dates=list(tables.split.train),
        test_dates=list(tables.split.test),
        gap_dates=list(tables.split.gap),
        dropped_dates=tables.dropped_dates,
        empty_dates=tables.empty_dates,
        dropped_observations=tables.dropped_observations,
        auc_test=headline_auc(tables, "test"),
        auc_train=headline_auc(tables, "train"),
        observations=int(test_current["customers"].sum()),
        churned=int(test_current["churned"].sum()),
        choice={
            "weights": choice.weights,
            "window_days": choice.setting.window_days,
            "half_life_days": choice.setting.half_life_days,
            "inner_auc": choice.inner_auc,
            "reason": choice.reason,
            "keeps_current": choice.keeps_current,
        },
        candidates=tables.candidates.sort("inner_auc", descending=True, nulls_last=True).to_dicts(),
        tiers_test=pooled(tables.tiers).filter(pl.col("weights") != "uniform").to_dicts(),
        suggested_tiers=tables.suggested_config.tier_boundaries.model_dump(),
        tier_note=tables.tier_note,
        weights=tables.weights.to_dicts(),
        rule_evidence_test=pooled(evidence).to_dicts() if evidence is not None else [],
        calibration_note=tables.calibration.note,
        warnings=tables.warnings,
        skipped_segment_columns=tables.skipped_segment_columns,
        notes=tables.notes,
    )


def read_valid_events(valid_path: str) -> pl.DataFrame:
    """The columns the backtest reads: the scoring ones and the metric snapshot's, when there."""
    present = pl.scan_parquet(valid_path, glob=False).collect_schema().names()
    wanted = ["customer_id", "event_type", "occurred_at", *METRIC_COLUMNS]
    return pl.read_parquet(valid_path, columns=[c for c in wanted if c in present], glob=False)


@task(name="run-backtest", cache_policy=NO_CACHE, persist_result=False)
def run_backtest(
    valid_path: str,
    config: ScoringConfig,
    config_source: str,
    dates: list[date],
    horizon_days: int,
    output: str,
    customers_path: str | None = None,
    labels_path: str | None = None,
) -> BacktestReport:
    """Compute the backtest, write its tables, report and suggested config under `output`."""
    events = read_valid_events(valid_path)
    customers = read_customers(customers_path) if customers_path else None
    labels = read_labels(labels_path) if labels_path else None
    tables = compute_backtest(
        events,
        config,
        dates,
        horizon_days,
        customers,
        customers_path or "customers",
        labels,
        labels_path,
    )
    root = Path(output)
    staged = root / f".{BACKTEST_DIR}-{uuid.uuid4().hex[:12]}"
    written = write_tables(tables, staged)
    suggested_text = suggested_config_text(tables, config_source)
    (staged / "report.html").write_text(render_report(tables, suggested_text), encoding="utf-8")
    target = root / BACKTEST_DIR
    replace_directory(staged, target)
    suggested_path = root / SUGGESTED_CONFIG
    temporary = suggested_path.with_name(f".{SUGGESTED_CONFIG}.tmp")
    temporary.write_text(suggested_text, encoding="utf-8")
    temporary.replace(suggested_path)
    return backtest_report(tables, root, target, written, suggested_path)
