"""The tuned backtest on a cohort-shaped history (demo.cohorts): about 4 M events, 40 weekly
observation dates, official labels and the customers' observation ends. Measured as the flow
runs it, step by step (extract, validate with Great Expectations, backtest: labels, the
candidate grid, scores, figures, tables, report), outside Prefect.

    python -m benchmarks.bench --backtest-only      # this measurement alone
    python -m benchmarks.bench --backtest           # with the scoring benchmark
"""

import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

COHORTS = 40
CUSTOMERS_PER_COHORT = 7_500
HORIZON_DAYS = 14
SEED = 1
WEIGHTS = {
    "navigate": 3,
    "access": 2,
    "page_close": 1,
    "video": 1,
    "problem": 1,
    "discussion": 1,
    "wiki": 1,
    "help": 0.5,
}


def write_backtest_history(root: Path) -> dict[str, Any]:
    """events.parquet, customers.parquet (with observed_until) and labels.parquet under
    `root` (skipped when the same ones are there); returns their summary."""
    from demo.cohorts import cohort_dataset

    summary: dict[str, Any] = {"cohorts": COHORTS, "per_cohort": CUSTOMERS_PER_COHORT, "seed": SEED}
    marker = root / "history.json"
    if marker.exists() and json.loads(marker.read_text())["request"] == summary:
        return dict(json.loads(marker.read_text()))
    data = cohort_dataset(
        seed=SEED,
        cohorts=COHORTS,
        customers_per_cohort=CUSTOMERS_PER_COHORT,
        horizon_days=HORIZON_DAYS,
    )
    root.mkdir(parents=True, exist_ok=True)
    data.events.write_parquet(root / "events.parquet", row_group_size=250_000)
    data.customers.write_parquet(root / "customers.parquet")
    data.labels.write_parquet(root / "labels.parquet")
    dates = data.labels["observation_date"]
    found = {
        "request": summary,
        "events": data.events.height,
        "customers": data.customers.height,
        "labels": data.labels.height,
        "first_date": str(dates.min()),
        "last_date": str(dates.max()),
        "observation_dates": dates.n_unique(),
    }
    marker.write_text(json.dumps(found))
    return found


def measure_backtest(history: Path, labelled: bool, work: Path) -> dict[str, Any]:
    """Extract, validate and backtest the history (with its labels, or by silence with the
    customers' observed_until), every date every 7 days from the labels' first to last."""
    from scoring.backtest.observations import observation_dates
    from scoring.config import ScoringConfig
    from tasks.backtest.run import run_backtest
    from tasks.extract.files import EventFile, read_events
    from tasks.quality.validate import validate

    summary = json.loads((history / "history.json").read_text())
    first, last = (
        date.fromisoformat(summary["first_date"]),
        date.fromisoformat(summary["last_date"]),
    )
    config = ScoringConfig(weights=WEIGHTS)
    steps: dict[str, float] = {}
    started = time.perf_counter()
    raw = read_events([EventFile.of(str(history / "events.parquet"))])
    steps["extract"] = time.perf_counter() - started
    step = time.perf_counter()
    valid_path = work / "valid_events.parquet"
    validate(raw, config, last + timedelta(days=HORIZON_DAYS)).valid.write_parquet(valid_path)
    steps["validate"] = time.perf_counter() - step
    step = time.perf_counter()
    report = run_backtest.fn(
        str(valid_path),
        config,
        "bench",
        observation_dates(first, last, 1 if labelled else 7),
        HORIZON_DAYS,
        str(work / "output"),
        str(history / "customers.parquet"),
        str(history / "labels.parquet") if labelled else None,
    )
    steps["backtest"] = time.perf_counter() - step
    return {
        "seconds": time.perf_counter() - started,
        "steps": steps,
        "rows": raw.height,
        "observations": report.observations,
        "test_dates": len(report.test_dates),
        "train_dates": len(report.train_dates),
        "candidates": len(report.candidates),
        "choice": report.choice["reason"],
        "auc_test": report.auc_test,
        "dropped_observations": report.dropped_observations,
    }


def backtest_report(results: dict[str, Any]) -> list[str]:
    """Markdown lines for the backtest measurements."""
    history = results["backtest_history"]
    lines = [
        "",
        f"Backtest (cohort-shaped history: {history['events']:,} events, {history['customers']:,} "
        f"customers, {history['observation_dates']} observation dates, "
        f"{HORIZON_DAYS}-day horizon); best of the repeats; {results['cpus']} CPUs, shared: load "
        f"average {results['load_average_at_start'][0]:.1f} at start.",
        "",
        "| backtest | total (s) | extract | validate | backtest | peak RSS (MB) "
        "| AUC test: current / suggested / uniform |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, label in (
        ("backtest_labels", "with --labels"),
        ("backtest_silence", "silence + observed_until"),
    ):
        measured = results["main"].get(name)
        if measured is None:
            continue
        auc = measured["auc_test"]
        steps = measured["steps"]
        lines.append(
            f"| {label} | {measured['seconds']:.1f} | {steps['extract']:.1f} | "
            f"{steps['validate']:.1f} | {steps['backtest']:.1f} | {measured['peak_rss_mb']:.0f} | "
            + " / ".join(f"{auc[n]:.4f}" for n in ("current", "suggested", "uniform"))
            + " |"
        )
    return lines
