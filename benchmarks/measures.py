"""The measurements of `make bench`, each run in a fresh subprocess (benchmarks/bench.py):
`python -m benchmarks.bench measure <kind> <history> [--window N] [--option N]` prints one
JSON line with `seconds` and the process's peak RSS."""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.backtest import measure_backtest
from benchmarks.synthetic import BENCH_WEIGHTS, PART_FILE

RUN_DATE = date(2026, 3, 31)
ROOT = Path(__file__).resolve().parent.parent


def history_files(history: Path) -> list[str]:
    return sorted(str(p) for p in history.glob(f"event_date=*/{PART_FILE}"))


def config_for(window_days: int) -> Any:
    from scoring.config import ScoringConfig

    return ScoringConfig(window_days=window_days, weights=BENCH_WEIGHTS)


def store_dir(history: Path, window_days: int) -> Path:
    """Where prepare_store keeps the aggregate store of a history."""
    return history.parent / f"{history.name}-store-w{window_days}"


def cpu_seconds() -> float:
    """This process's CPU seconds (every thread): steadier than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Steps:
    """Wall (and CPU) seconds per named step; the output writes (write_partition, wherever the
    scoring and metric steps call it) counted apart as `write`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {"write": 0.0}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started, writing, cpu = time.perf_counter(), self.seconds["write"], cpu_seconds()
        yield
        spent = time.perf_counter() - started - (self.seconds["write"] - writing)
        self.seconds[name] = self.seconds.get(name, 0.0) + spent
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu_seconds() - cpu

    def timed_writes(self) -> None:
        """Count every staged output write of the scoring and metric steps under `write`."""
        import tasks.score.metrics as metrics_module
        import tasks.score.scores as scores_module

        original = scores_module.write_partition

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds["write"] += time.perf_counter() - started

        scores_module.write_partition = timed  # type: ignore[assignment]
        metrics_module.write_partition = timed  # type: ignore[assignment]

    def total(self) -> float:
        return sum(self.seconds.values())


# ------------------------------------------------------------------ scoring against DuckDB


def measure_project(history: Path, window_days: int, work: Path, _: int) -> dict[str, Any]:
    """The project's scoring (tasks.score.scores.score_tables) on the raw Parquet, outputs
    kept in memory."""
    from tasks.score.scores import score_tables

    config = config_for(window_days)
    started = time.perf_counter()
    scores, contributions, _ = score_tables(
        pl.scan_parquet(history_files(history)), config, RUN_DATE
    )
    seconds = time.perf_counter() - started
    scores.write_parquet(work / "project_scores.parquet")
    return {"seconds": seconds, "customers": scores.height, "contributions": contributions.height}


def measure_duckdb(history: Path, window_days: int, work: Path, _: int) -> dict[str, Any]:
    """The same computation as one DuckDB SQL script (benchmarks/reference_sql.py)."""
    import pyarrow.parquet as pq

    from benchmarks.reference_sql import duckdb_scores

    started = time.perf_counter()
    scores, contributions = duckdb_scores(
        history_files(history), BENCH_WEIGHTS, RUN_DATE, window_days
    )
    seconds = time.perf_counter() - started
    pq.write_table(scores, work / "duckdb_scores.parquet")
    return {
        "seconds": seconds,
        "customers": scores.num_rows,
        "contributions": contributions.num_rows,
    }


def measure_floor(history: Path, window_days: int, work: Path, _: int) -> dict[str, Any]:
    """A bare Polars scan of the needed columns (decoded, reduced to nothing): the floor."""
    started = time.perf_counter()
    pl.scan_parquet(history_files(history)).select(
        pl.col("customer_id").str.len_bytes().sum(),
        pl.col("event_type").str.len_bytes().sum(),
        pl.col("occurred_at").max(),
    ).collect()
    return {"seconds": time.perf_counter() - started}


# ------------------------------------------------------------------ the daily job


def measure_full_daily(history: Path, window_days: int, work: Path, _: int) -> dict[str, Any]:
    """The daily job on every raw file, as the flow runs its steps (task bodies, no Prefect):
    extract, validate (the GX gate), score with the panel's totals, the metric panel; the
    writes of the staged outputs (scores, contributions, customer_metrics, segment_metrics)
    timed apart. The raw events are read into memory and handed to validation, and the valid
    events from validation to scoring and the panel, as the flow does."""
    import great_expectations  # noqa: F401  (its import is a once-per-process cost)

    from tasks.extract.events import extract_events
    from tasks.quality.validate import validate_events_in_memory
    from tasks.score.metrics import compute_metrics
    from tasks.score.scores import score_customers

    config, staging = config_for(window_days), str(work / "staging")
    steps = Steps()
    steps.timed_writes()
    with steps.step("extract"):
        raw = extract_events.fn(history_files(history))
    with steps.step("validate"):
        validation, valid = validate_events_in_memory.fn(
            raw, staging, RUN_DATE, config, str(work / "out")
        )
    del raw  # as the flow frees the raw events before scoring
    with steps.step("score"):
        scored = score_customers.fn(valid, config, RUN_DATE, staging, keep_totals=True)
    with steps.step("metrics"):
        panel = compute_metrics.fn(valid, config, RUN_DATE, staging, None, scored.totals_file)
    return {
        "seconds": steps.total(),
        "steps": steps.seconds,
        "steps_cpu": steps.cpu,
        "rows_read": validation.rows_read,
        "customers": scored.customers,
        "panel_customers": panel.customers,
    }


def measure_incremental(history: Path, window_days: int, work: Path, _: int) -> dict[str, Any]:
    """The incremental daily job for the last day, on a store that holds the days before
    (prepare_store): the steps of measure_full_daily on the new file only, the store refreshed
    (event counts and the panel's daily tables), scores and the metric panel from the store."""
    import great_expectations  # noqa: F401  (its import is a once-per-process cost)

    from scoring.metrics.panel_days import panel_vocabulary
    from tasks.extract.events import extract_events
    from tasks.quality.validate import validate_events
    from tasks.score.daily_aggregates import StoreState, plan_refresh, refresh_aggregates
    from tasks.score.metrics import compute_metrics_from_aggregates
    from tasks.score.scores import score_from_aggregates

    output = work / "output"
    shutil.copytree(store_dir(history, window_days), output)
    config, staging = config_for(window_days), str(work / "staging")
    steps = Steps()
    steps.timed_writes()
    with steps.step("extract"):
        state = StoreState.read(output)
        plan = plan_refresh(history_files(history), state, panel_vocabulary(config))
        raw = extract_events.fn(plan.read)
    with steps.step("validate"):
        validation = validate_events.fn(raw, staging, RUN_DATE, config, str(output))
    del raw
    with steps.step("aggregate"):
        refresh_aggregates(validation.valid_path, plan, output, config)
    with steps.step("score"):
        scored = score_from_aggregates.fn(str(output), config, RUN_DATE, staging, True)
    with steps.step("metrics"):
        panel = compute_metrics_from_aggregates.fn(
            str(output), config, RUN_DATE, staging, str(scored.totals_file)
        )
    return {
        "seconds": steps.total(),
        "steps": steps.seconds,
        "steps_cpu": steps.cpu,
        "files_read": len(plan.read),
        "rows_read": validation.rows_read,
        "customers": scored.customers,
        "panel_customers": panel.customers,
    }


def prepare_store(history: Path, window_days: int) -> None:
    """The aggregate store (event counts, the metric panel's tables and the running window
    totals) as the daily run of the day before the last left it (untimed)."""
    from scoring.schema import SOURCE_FILE
    from tasks.score.daily_aggregates import (
        AggregatePlan,
        panel_days_from_store,
        refresh_aggregates,
    )
    from tasks.score.running_totals import period_totals
    from tasks.score.scores import counted_period_totals

    store = store_dir(history, window_days)
    if (store / "ready-with-totals").exists():
        return
    if (store / "ready").exists():  # a store of an earlier bench: only the totals are missing
        config, day_before = config_for(window_days), RUN_DATE - timedelta(days=1)
        days = panel_days_from_store(store, config, day_before)
        period_totals(store, config, day_before, days, counted_period_totals)
        (store / "ready-with-totals").touch()
        return
    shutil.rmtree(store, ignore_errors=True)
    config = config_for(window_days)
    files = history_files(history)[:-1]
    with tempfile.TemporaryDirectory() as work:
        for first in range(0, len(files), 10):  # ten days a refresh: fewer rewrites of the state
            batch = files[first : first + 10]
            valid = Path(work) / "valid.parquet"
            pl.concat(
                [pl.read_parquet(p).with_columns(pl.lit(p).alias(SOURCE_FILE)) for p in batch]
            ).write_parquet(valid)
            refresh_aggregates(str(valid), AggregatePlan(batch, [], 0), store, config)
    (store / "ready").touch()
    prepare_store(history, window_days)


# ------------------------------------------------------------------ end to end


PREFECT_HOME = Path(tempfile.gettempdir()) / "engage-bench-prefect-home"


def engage_run(events: str, work: Path, window_days: int) -> float:
    """`engage run` in its own process (an ephemeral Prefect server started by it, as a user
    runs it); its wall seconds."""
    config = work / "config.yaml"
    weights = "\n".join(f"  {t}: {w}" for t, w in BENCH_WEIGHTS.items())
    config.write_text(f"window_days: {window_days}\nweights:\n{weights}\n")
    # one Prefect home for every measurement (its database created by the first): a
    # command's cold start, as a user's daily runs pay it, not a first install's migrations
    environment = {**os.environ, "PREFECT_HOME": str(PREFECT_HOME)}
    command = [str(Path(sys.executable).parent / "engage"), "run", "--config", str(config)]
    command += ["--run-date", RUN_DATE.isoformat(), "--events", events]
    command += ["--output", str(work / "output")]
    started = time.perf_counter()
    completed = subprocess.run(
        command, capture_output=True, text=True, env=environment, cwd=ROOT, check=False
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"engage run failed:\n{completed.stdout[-2000:]}{completed.stderr[-3000:]}"
        )
    return seconds


def measure_run(history: Path, window_days: int, work: Path, _: int) -> dict[str, Any]:
    """`engage run` on every file of the history (a full read: extract, validate, score, the
    metric panel, follow-ups, the outputs' checks, report, publish)."""
    events = str(history / "event_date=*" / PART_FILE)
    return {"seconds": engage_run(events, work, window_days), "run_rss": True}


def measure_tiny_run(history: Path, window_days: int, work: Path, _: int) -> dict[str, Any]:
    """`engage run` on a 3-row file: the fixed cost (process, server, flow) a marginal cost
    is measured over."""
    events = work / "tiny.csv"
    events.write_text(
        "event_id,customer_id,event_type,occurred_at\n"
        "e1,a,login,2026-03-31T10:00:00Z\ne2,b,invite_sent,2026-03-30T10:00:00Z\n"
        "e3,a,login,2026-03-29T10:00:00Z\n"
    )
    return {"seconds": engage_run(str(events), work, window_days), "run_rss": True}


def measure_duckdb_run(history: Path, window_days: int, work: Path, _: int) -> dict[str, Any]:
    """The end-to-end reference: one DuckDB query that deduplicates by event_id, scores every
    customer seen and writes the scores to Parquet (reference_sql.duckdb_run)."""
    from benchmarks.reference_sql import duckdb_run

    started = time.perf_counter()
    rows = duckdb_run(
        history_files(history), BENCH_WEIGHTS, RUN_DATE, window_days, str(work / "scores.parquet")
    )
    return {"seconds": time.perf_counter() - started, "customers": rows}


def measure_cli_engage_server(
    history: Path, window_days: int, work: Path, _: int
) -> dict[str, Any]:
    """`engage run` on a 3-row file with `engage server` running (started before, not timed):
    the fastest of 3 (benchmarks/fixed_cost.py)."""
    from benchmarks.fixed_cost import engage_server
    from benchmarks.fixed_cost import measure_cli_engage_server as handed_over

    with engage_server(work / "engage-server") as home:
        if home is None:
            raise RuntimeError("engage server did not start")
        runs = []
        for attempt in range(3):
            (work / f"run{attempt}").mkdir(parents=True, exist_ok=True)
            runs.append(handed_over(work / f"run{attempt}", home)["seconds"])
    return {"seconds": min(runs), "runs": runs}


# ------------------------------------------------------------------ scale-out


def measure_buckets(history: Path, window_days: int, work: Path, buckets: int) -> dict[str, Any]:
    """The bucketed run's steps one after the other in this process (task bodies): the
    extraction into bucket partitions, each bucket's task (timed alone: a per-bucket cost),
    the merges; and the bytes each bucket read against the data's."""
    from datetime import UTC, datetime

    import great_expectations  # noqa: F401  (its import is a once-per-process cost)

    from tasks.extract.buckets import extract_to_buckets
    from tasks.quality.buckets import gate_buckets
    from tasks.score.buckets import merge_panels, merge_scores, process_bucket

    config, staging = config_for(window_days), str(work / "staging")
    files = history_files(history)
    steps: dict[str, float] = {}
    started = time.perf_counter()
    raw = extract_to_buckets.fn(files, staging, buckets)
    steps["extract"] = time.perf_counter() - started
    now, parts, per_bucket = datetime.now(UTC), [], []
    for bucket in range(buckets):
        began = time.perf_counter()
        parts.append(process_bucket.fn(raw, bucket, config, RUN_DATE, now, staging))
        per_bucket.append(time.perf_counter() - began)
    steps["buckets"] = sum(per_bucket)
    began = time.perf_counter()
    gate_buckets.fn([p.check for p in parts], raw, staging, RUN_DATE, now, config)
    scored = merge_scores.fn(parts, staging, RUN_DATE, config.tier_boundaries)
    merge_panels.fn(parts, config, RUN_DATE, staging)
    steps["merge"] = time.perf_counter() - began
    return {
        "seconds": time.perf_counter() - started,
        "steps": steps,
        "buckets": buckets,
        "per_bucket_seconds": per_bucket,
        "events": raw.rows,
        "customers": scored.customers,
        "input_bytes": sum(Path(f).stat().st_size for f in files),
        "partition_bytes": sum(raw.partition_bytes),
        "repeats_bytes": Path(raw.repeats).stat().st_size,
        "bytes_read": sum(p.bytes_read for p in parts),
        "files_read": [p.files_read for p in parts],
    }


MEASUREMENTS: dict[str, Callable[[Path, int, Path, int], dict[str, Any]]] = {
    "floor": measure_floor,
    "project": measure_project,
    "duckdb": measure_duckdb,
    "full_daily": measure_full_daily,
    "incremental": measure_incremental,
    "run": measure_run,
    "tiny_run": measure_tiny_run,
    "duckdb_run": measure_duckdb_run,
    "buckets": measure_buckets,
    "cli_engage_server": measure_cli_engage_server,
    "backtest_labels": lambda history, _, work, __: measure_backtest(history, True, work),
    "backtest_silence": lambda history, _, work, __: measure_backtest(history, False, work),
}


def peak_rss_mb(children: bool = False) -> float:
    """This process's peak resident set size (VmHWM: unlike ru_maxrss, not inherited from
    the parent across exec); with `children`, that of its largest waited-for child."""
    if children:
        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, history: Path, window_days: int, option: int) -> None:
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as work:
        result = MEASUREMENTS[kind](history, window_days, Path(work), option)
        if kind in ("project", "duckdb"):
            keep = history.parent / f"{kind}-{history.name}-w{window_days}.parquet"
            shutil.copy(Path(work) / f"{kind}_scores.parquet", keep)
    result["peak_rss_mb"] = peak_rss_mb(children=bool(result.pop("run_rss", False)))
    print(json.dumps(result))
