"""Backtest tasks: label churn, score point in time, fit suggested weights, write the tables.

The rules are in `scoring.backtest` (pure Polars) and `tasks.backtest.calibrate` (the fit);
this module wires them over the observation dates and writes `<output>/backtest/*.parquet`.
"""

import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.backtest import (
    OBSERVATION_DATE,
    TimeSplit,
    churn_labels,
    dates_with_full_horizon,
    event_type_features,
    labelled_scores,
    roc_auc,
    roc_curve,
    tier_churn,
    time_split,
)
from scoring.config import ScoringConfig
from tasks.backtest.calibrate import fit_suggested_weights
from tasks.backtest.report import render_report
from tasks.backtest.tables import BacktestTables, headline_auc
from tasks.extract.customers import read_customers

PERIODS = ("train", "test", "gap", "all")
MAX_SEGMENT_VALUES = 20
BACKTEST_DIR = "backtest"
SUGGESTED_CONFIG = "suggested_config.yaml"


class BacktestInputError(ValueError):
    """Inputs that cannot be backtested (range too short, bad customers table…)."""


def refuse_overwriting(config_source: str | None, output: str | Path) -> None:
    """Raise when the suggested configuration would replace the user's configuration file."""
    suggested = Path(output) / SUGGESTED_CONFIG
    if config_source and suggested.resolve() == Path(config_source).resolve():
        raise BacktestInputError(
            f"{config_source}: the suggested configuration would overwrite it; "
            "choose another --output directory"
        )


def uniform_config(config: ScoringConfig) -> ScoringConfig:
    """The configuration with weight 1 for every configured event type."""
    return config.model_copy(update={"weights": dict.fromkeys(config.weights, 1.0)})


def customer_segments(customers: pl.DataFrame, source: str) -> tuple[pl.DataFrame, list[str]]:
    """(customer_id, segment, segment_value) for every column with 2..MAX_SEGMENT_VALUES
    distinct values, and the skipped columns. The first row of a repeated customer_id wins."""
    if "customer_id" not in customers.columns:
        raise BacktestInputError(
            f"{source}: the customers table needs a customer_id column "
            f"(found: {', '.join(customers.columns) or 'none'})"
        )
    table = customers.with_columns(pl.all().cast(pl.String)).unique(
        "customer_id", keep="first", maintain_order=True
    )
    columns = [c for c in table.columns if c != "customer_id"]
    usable = [c for c in columns if 2 <= table[c].n_unique() <= MAX_SEGMENT_VALUES]
    skipped = [c for c in columns if c not in usable]
    schema = {"customer_id": pl.String, "segment": pl.String, "segment_value": pl.String}
    if not usable:
        return pl.DataFrame(schema=schema), skipped
    long = table.unpivot(
        index="customer_id", on=usable, variable_name="segment", value_name="segment_value"
    ).with_columns(pl.col("segment_value").fill_null("(missing)"))
    return long.select(list(schema)), skipped


def _with_all_period(frame: pl.LazyFrame) -> pl.LazyFrame:
    return pl.concat([frame, frame.with_columns(pl.lit("all").alias("period"))])


def _figures(observations: pl.LazyFrame, extra: list[str]) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(AUC, tiers) per weights x period (+ extra), pooled over the period's dates."""
    pooled = _with_all_period(observations)
    by = ["weights", "period", *extra]
    return roc_auc(pooled, by), tier_churn(pooled, by)


def churn_labels_over(
    events: pl.LazyFrame, config: ScoringConfig, dates: list[date], horizon_days: int
) -> pl.DataFrame:
    """The churn labels of every observation date, stacked (empty frame for no date)."""
    churn_types = config.backtest_settings.churn_event_types
    queries = [
        churn_labels(events, config.window_days, horizon_days, churn_types, d) for d in dates
    ]
    empty = pl.DataFrame(
        schema={OBSERVATION_DATE: pl.Date, "customer_id": pl.String, "churned": pl.Boolean}
    )
    return pl.concat(pl.collect_all(queries)) if queries else empty


def split_in_time(dates: list[date], horizon_days: int) -> tuple[TimeSplit | None, list[str]]:
    """The purged time split, or, when the dates are too close for one, a plain split (training
    dates strictly before test dates) with a note saying how much the horizons overlap."""
    split = time_split(dates, horizon_days)
    if split is not None:
        return split, []
    split = time_split(dates, 1)
    if split is None:
        return None, []
    return split, [
        "the range is too short for training labels to end before the test dates: "
        f"the last training date's {horizon_days}-day horizon overlaps the test period "
        f"by {split.label_overlap_days(horizon_days)} day(s) (the fit still uses only "
        "earlier dates); for a clean out-of-time test widen --from/--to or lower --horizon"
    ]


def compute_backtest(
    events: pl.DataFrame,
    config: ScoringConfig,
    dates: list[date],
    horizon_days: int,
    customers: pl.DataFrame | None = None,
    customers_source: str = "customers",
) -> BacktestTables:
    """Every backtest figure for valid, de-duplicated `events` over the observation dates."""
    if events.height == 0:
        raise BacktestInputError("no valid events to backtest")
    lazy = events.lazy()
    last_event_date = events["occurred_at"].max().date()  # type: ignore[union-attr]
    covered = dates_with_full_horizon(dates, last_event_date, horizon_days)
    dropped = [d for d in dates if d not in covered]
    labels = churn_labels_over(lazy, config, covered, horizon_days)
    labelled_dates = set(labels[OBSERVATION_DATE].unique().to_list())
    usable = [d for d in covered if d in labelled_dates]
    empty = [d for d in covered if d not in labelled_dates]
    split, notes = split_in_time(usable, horizon_days)
    if split is None:
        raise BacktestInputError(
            f"cannot split {len(usable)} usable observation date(s) in time "
            f"({', '.join(map(str, usable)) or 'none'}; last event on {last_event_date}"
            + (f"; {len(dropped)} date(s) dropped: horizon beyond the data" if dropped else "")
            + "): at least two observation dates with active customers and a full horizon "
            "are needed; widen --from/--to, lower --every or --horizon"
        )

    features = pl.concat(
        pl.collect_all([event_type_features(lazy, config, d) for d in split.train])
    )
    calibration = fit_suggested_weights(
        features, labels, split.train, horizon_days, dict(config.weights)
    )
    suggested = ScoringConfig.model_validate(config.model_dump() | {"weights": calibration.weights})
    weight_sets = {"current": config, "suggested": suggested, "uniform": uniform_config(config)}
    labels_lazy = labels.lazy()
    periods = {d: split.period_of(d) for d in usable}
    scored = pl.collect_all(
        [
            labelled_scores(lazy, weights, labels_lazy, d).with_columns(
                pl.lit(name).alias("weights"), pl.lit(periods[d]).alias("period")
            )
            for name, weights in weight_sets.items()
            for d in usable
        ]
    )
    observations = pl.concat(scored).select(
        "weights", OBSERVATION_DATE, "period", "customer_id", "score", "tier", "churned"
    )
    obs = observations.lazy()
    per_date = ["weights", OBSERVATION_DATE, "period"]
    pooled_auc, pooled_tiers = _figures(obs, [])
    auc_frames = [
        roc_auc(obs, per_date),
        pooled_auc.with_columns(pl.lit(None, pl.Date).alias(OBSERVATION_DATE)),
    ]
    tier_frames = [
        tier_churn(obs, per_date),
        pooled_tiers.with_columns(pl.lit(None, pl.Date).alias(OBSERVATION_DATE)),
    ]
    roc = roc_curve(_with_all_period(obs), ["weights", "period"])

    segment_auc = segment_tiers = None
    skipped: list[str] = []
    if customers is not None:
        segments, skipped = customer_segments(customers, customers_source)
        if segments.height:
            joined = obs.join(segments.lazy(), on="customer_id", how="inner")
            segment_auc_lazy, segment_tiers_lazy = _figures(joined, ["segment", "segment_value"])
            segment_auc, segment_tiers = pl.collect_all([segment_auc_lazy, segment_tiers_lazy])

    columns = ["weights", "period", OBSERVATION_DATE]
    auc, tiers, roc_points = pl.collect_all(
        [
            pl.concat([f.select(*columns, pl.exclude(columns)) for f in auc_frames]),
            pl.concat([f.select(*columns, pl.exclude(columns)) for f in tier_frames]),
            roc,
        ]
    )
    return BacktestTables(
        observations=observations,
        auc=auc,
        tiers=tiers,
        roc=roc_points,
        weights=calibration.table(),
        segment_auc=segment_auc,
        segment_tiers=segment_tiers,
        calibration=calibration,
        split=split,
        suggested_config=suggested,
        dropped_dates=dropped,
        empty_dates=empty,
        skipped_segment_columns=skipped,
        notes=notes,
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def suggested_config_text(tables: BacktestTables, config_source: str) -> str:
    """The suggested configuration as YAML with a header giving the out-of-time AUCs."""
    auc = headline_auc(tables)
    test = tables.split.test
    test_rows = tables.auc.filter(
        pl.col(OBSERVATION_DATE).is_null()
        & (pl.col("period") == "test")
        & (pl.col("weights") == "current")
    )
    observations = int(test_rows["customers"].sum()) if test_rows.height else 0
    churned = int(test_rows["churned"].sum()) if test_rows.height else 0
    calibration = tables.calibration
    new_types = [s.event_type for s in calibration.suggestions if s.status == "new"]
    kept = [s.event_type for s in calibration.suggestions if s.status == "kept"]
    header = [
        f"# Suggested by `engage backtest` from {config_source} (that file is left unchanged).",
        f"# Fitted on observation dates {tables.split.train[0]} .. {tables.split.train[-1]}; "
        f"evaluated out of time on {test[0]} .. {test[-1]}",
        f"# ({observations:,} observations, {churned:,} churned). ROC AUC, higher score = less "
        "churn:",
        f"#   current weights:   {_fmt(auc['current'])}",
        f"#   suggested weights: {_fmt(auc['suggested'])}",
        f"#   uniform weights:   {_fmt(auc['uniform'])}",
        f"# {calibration.note}.",
    ]
    header += [f"# Note: {note}" for note in tables.notes]
    if new_types:
        header.append(f"# New event types (not in the current config): {', '.join(new_types)}")
    if kept:
        header.append(f"# Kept at their current weight (too little data): {', '.join(kept)}")
    document = tables.suggested_config.model_dump(mode="json")
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return "\n".join(header) + "\n" + body


def write_tables(tables: BacktestTables, directory: Path) -> list[Path]:
    """Every figure as `<directory>/<name>.parquet`; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    frames: dict[str, pl.DataFrame | None] = {
        "observations": tables.observations.sort("weights", OBSERVATION_DATE, "customer_id"),
        "auc": tables.auc,
        "tiers": tables.tiers,
        "roc": tables.roc,
        "weights": tables.weights,
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
    train_dates: list[date]
    test_dates: list[date]
    gap_dates: list[date]
    dropped_dates: list[date]
    empty_dates: list[date]
    auc_test: dict[str, float | None]
    auc_train: dict[str, float | None]
    observations: int
    churned: int
    tiers_test: list[dict[str, Any]]
    weights: list[dict[str, Any]]
    calibration_note: str
    calibration_warnings: list[str]
    skipped_segment_columns: list[str]
    notes: list[str]


@task(name="run-backtest", cache_policy=NO_CACHE, persist_result=False)
def run_backtest(
    valid_path: str,
    config: ScoringConfig,
    config_source: str,
    dates: list[date],
    horizon_days: int,
    output: str,
    customers_path: str | None = None,
) -> BacktestReport:
    """Compute the backtest, write its tables, report and suggested config under `output`."""
    events = pl.read_parquet(valid_path, columns=["customer_id", "event_type", "occurred_at"])
    customers = read_customers(customers_path) if customers_path else None
    tables = compute_backtest(
        events, config, dates, horizon_days, customers, customers_path or "customers"
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

    test_tiers = tables.tiers.filter(
        pl.col(OBSERVATION_DATE).is_null() & (pl.col("period") == "test")
    )
    pooled_test = tables.auc.filter(
        pl.col(OBSERVATION_DATE).is_null()
        & (pl.col("period") == "test")
        & (pl.col("weights") == "current")
    )
    return BacktestReport(
        output=str(root),
        report_path=str(target / "report.html"),
        suggested_config_path=str(suggested_path),
        tables=[str(target / p.name) for p in written],
        train_dates=list(tables.split.train),
        test_dates=list(tables.split.test),
        gap_dates=list(tables.split.gap),
        dropped_dates=tables.dropped_dates,
        empty_dates=tables.empty_dates,
        auc_test=headline_auc(tables, "test"),
        auc_train=headline_auc(tables, "train"),
        observations=int(pooled_test["customers"].sum()),
        churned=int(pooled_test["churned"].sum()),
        tiers_test=test_tiers.to_dicts(),
        weights=tables.weights.to_dicts(),
        calibration_note=tables.calibration.note,
        calibration_warnings=tables.calibration.warnings,
        skipped_segment_columns=tables.skipped_segment_columns,
        notes=tables.notes,
    )
