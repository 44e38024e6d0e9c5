"""`make bench`: scoring speed and memory on a synthetic history, against DuckDB.

Every measurement runs in a fresh subprocess (`python -m benchmarks.bench measure ...`) that
reports its wall time and its peak RSS (ru_maxrss), so one measurement's memory never
inflates another's. The main measurements are repeated and the fastest run is kept (the
machine is shared: the minimum is the least disturbed); the ratios compare measurements of
the same run.

    python -m benchmarks.bench                       # 20 M events, scaling 5/20/50 M
    python -m benchmarks.bench --events 1000000 --scaling 1000000 --repeat 1   # a quick look
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.synthetic import BENCH_WEIGHTS, PART_FILE, write_history

RUN_DATE = date(2026, 3, 31)
ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "score_vs_duckdb": 0.8,
    "score_vs_floor": 2.0,
    "incremental_vs_full": 0.10,
    "peak_rss_gb_at_50m": 4.0,
}


def history_files(history: Path) -> list[str]:
    return sorted(str(p) for p in history.glob(f"event_date=*/{PART_FILE}"))


def config_for(window_days: int) -> Any:
    from scoring.config import ScoringConfig

    return ScoringConfig(window_days=window_days, weights=BENCH_WEIGHTS)


# ------------------------------------------------------------------ measurements (children)


def measure_project(history: Path, window_days: int, work: Path) -> dict[str, Any]:
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


def measure_duckdb(history: Path, window_days: int, work: Path) -> dict[str, Any]:
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


def measure_floor(history: Path, window_days: int, work: Path) -> dict[str, Any]:
    """A bare Polars scan of the needed columns (decoded, reduced to nothing): the floor."""
    started = time.perf_counter()
    pl.scan_parquet(history_files(history)).select(
        pl.col("customer_id").str.len_bytes().sum(),
        pl.col("event_type").str.len_bytes().sum(),
        pl.col("occurred_at").max(),
    ).collect()
    return {"seconds": time.perf_counter() - started}


class Steps:
    """Wall seconds per named step; the output writes (tasks.publish.write.write_partition,
    wherever a step calls it) counted apart as `write`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {"write": 0.0}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started, writing = time.perf_counter(), self.seconds["write"]
        yield
        spent = time.perf_counter() - started - (self.seconds["write"] - writing)
        self.seconds[name] = self.seconds.get(name, 0.0) + spent

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


def measure_full_daily(history: Path, window_days: int, work: Path) -> dict[str, Any]:
    """The daily job on every raw file, as the flow runs its steps (task bodies, no Prefect):
    extract, validate (the GX gate), score with the panel's totals, the metric panel; the
    writes of the staged outputs (scores, contributions, customer_metrics, segment_metrics)
    timed apart."""
    import great_expectations  # noqa: F401  (its import is a once-per-process cost)

    from tasks.extract.files import extract_events
    from tasks.quality.validate import validate_events
    from tasks.score.metrics import compute_metrics
    from tasks.score.scores import score_customers

    config, staging = config_for(window_days), str(work / "staging")
    steps = Steps()
    steps.timed_writes()
    with steps.step("extract"):
        raw = extract_events.fn(history_files(history), staging)
    with steps.step("validate"):
        validation = validate_events.fn(raw, staging, RUN_DATE, config, str(work / "out"))
    with steps.step("score"):
        scored = score_customers.fn(
            validation.valid_path, config, RUN_DATE, staging, keep_totals=True
        )
    with steps.step("metrics"):
        panel = compute_metrics.fn(
            validation.valid_path, config, RUN_DATE, staging, None, scored.totals_file
        )
    return {
        "seconds": steps.total(),
        "steps": steps.seconds,
        "rows_read": validation.rows_read,
        "customers": scored.customers,
        "panel_customers": panel.customers,
    }


def measure_incremental(history: Path, window_days: int, work: Path) -> dict[str, Any]:
    """The incremental daily job for the last day, on a store that holds the days before
    (prepare_store): the steps of measure_full_daily on the new file only, the store refreshed
    (event counts and the panel's daily tables), scores and the metric panel from the store."""
    import great_expectations  # noqa: F401  (its import is a once-per-process cost)

    from scoring.metrics.panel_days import panel_vocabulary
    from tasks.extract.files import extract_events
    from tasks.quality.validate import validate_events
    from tasks.score.daily_aggregates import StoreState, plan_refresh, refresh_aggregates
    from tasks.score.metrics import compute_metrics_from_aggregates
    from tasks.score.scores import score_from_aggregates

    output = work / "output"
    shutil.copytree(history.parent / f"{history.name}-store-w{window_days}", output)
    config, staging = config_for(window_days), str(work / "staging")
    steps = Steps()
    steps.timed_writes()
    with steps.step("extract"):
        state = StoreState.read(output)
        plan = plan_refresh(history_files(history), state, panel_vocabulary(config))
        raw = extract_events.fn(plan.read, staging)
    with steps.step("validate"):
        validation = validate_events.fn(raw, staging, RUN_DATE, config, str(output))
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
        "files_read": len(plan.read),
        "rows_read": validation.rows_read,
        "customers": scored.customers,
        "panel_customers": panel.customers,
    }


def measure_validate(history: Path, window_days: int, work: Path) -> dict[str, Any]:
    """tasks.quality.validate.validate (Great Expectations on pandas) on the last `window_days`
    files, and the project's scoring of the same rows."""
    import great_expectations  # noqa: F401  (its import, ~3-10 s, is a once-per-process cost)

    from tasks.extract.files import EventFile, read_events
    from tasks.quality.validate import validate

    files = history_files(history)[-window_days:]
    raw = read_events([EventFile.of(p) for p in files])
    started = time.perf_counter()
    validated = validate(raw)
    seconds = time.perf_counter() - started
    valid = work / "valid.parquet"
    validated.valid.write_parquet(valid)
    return {"seconds": seconds, "rows": raw.height, "files": len(files)}


def measure_score_rows(history: Path, window_days: int, work: Path) -> dict[str, Any]:
    """Scoring (tasks.score.scores.score_events, writes included) of the last `window_days`
    files."""
    from tasks.score.scores import score_events

    files = history_files(history)[-window_days:]
    started = time.perf_counter()
    score_events(pl.scan_parquet(files), config_for(window_days), RUN_DATE, str(work))
    return {"seconds": time.perf_counter() - started}


def measure_flow_overhead(history: Path, window_days: int, work: Path) -> dict[str, Any]:
    """The daily flow on a 3-row CSV with an ephemeral Prefect server: first run (server
    start included) and the next runs, against the time spent inside the steps."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    os.environ["PREFECT_HOME"] = str(work / "prefect-home")
    from flows.daily import daily_scoring

    events = work / "tiny.csv"
    events.write_text(
        "event_id,customer_id,event_type,occurred_at\n"
        "e1,a,login,2026-03-31T10:00:00Z\ne2,b,invite_sent,2026-03-30T10:00:00Z\n"
        "e3,a,login,2026-03-29T10:00:00Z\n"
    )
    runs = []
    for attempt in range(3):
        started = time.perf_counter()
        summary = daily_scoring(
            events=str(events),
            config=config_for(30),
            run_date=RUN_DATE,
            output=str(work / f"out{attempt}"),
        )
        wall = time.perf_counter() - started
        inside = sum(summary.timings_s.values())
        runs.append({"wall": wall, "steps": inside, "overhead": wall - inside})
    return {"seconds": min(r["wall"] for r in runs[1:]), "runs": runs}


MEASUREMENTS = {
    "project": measure_project,
    "duckdb": measure_duckdb,
    "floor": measure_floor,
    "full_daily": measure_full_daily,
    "incremental": measure_incremental,
    "validate": measure_validate,
    "score_rows": measure_score_rows,
    "flow_overhead": measure_flow_overhead,
}


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM: unlike ru_maxrss, not inherited from
    the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, history: Path, window_days: int) -> None:
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as work:
        result = MEASUREMENTS[kind](history, window_days, Path(work))
        if kind in ("project", "duckdb"):
            keep = history.parent / f"{kind}-{history.name}-w{window_days}.parquet"
            shutil.copy(Path(work) / f"{kind}_scores.parquet", keep)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


# ------------------------------------------------------------------ orchestration (parent)


def run_child(kind: str, history: Path, window_days: int, repeat: int = 1) -> dict[str, Any]:
    """Fastest of `repeat` fresh subprocesses (peak RSS: the largest seen)."""
    results = []
    for _ in range(repeat):
        completed = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench", "measure", kind, str(history)]
            + ["--window", str(window_days)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"measurement {kind} failed:\n{completed.stderr[-3000:]}")
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    best = min(results, key=lambda r: r["seconds"])
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
    best["all_seconds"] = [round(r["seconds"], 3) for r in results]
    print(
        f"  {kind:<15} w={window_days:<3} {best['seconds']:8.2f} s  "
        f"{best['peak_rss_mb']:8.0f} MB  {history.name}",
        flush=True,
    )
    return best


def prepare_store(history: Path, window_days: int) -> None:
    """The aggregate store (event counts and the metric panel's tables) as the daily run of
    the day before the last left it (untimed)."""
    from scoring.schema import SOURCE_FILE
    from tasks.score.daily_aggregates import AggregatePlan, refresh_aggregates

    store = history.parent / f"{history.name}-store-w{window_days}"
    if (store / "ready").exists():
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


def check_same_scores(data: Path, history: Path, window_days: int) -> bool:
    """The project's and DuckDB's scores agree (ids, counts, last events; scores to 1e-9)."""
    project = pl.read_parquet(data / f"project-{history.name}-w{window_days}.parquet")
    reference = pl.read_parquet(data / f"duckdb-{history.name}-w{window_days}.parquet")
    joined = project.join(reference, on="customer_id", how="full", suffix="_sql")
    return (
        project.height == reference.height == joined.height
        and (joined["event_count"] == joined["event_count_sql"]).all()
        and (joined["last_event_at"] == joined["last_event_at_sql"]).all()
        and ((joined["score"] - joined["score_sql"]).abs() <= 1e-9).all()
    )


def history_dir(data: Path, events: int) -> Path:
    return data / f"h{events // 1_000_000}m" if events >= 1_000_000 else data / f"h{events}"


def main(arguments: argparse.Namespace) -> dict[str, Any]:
    data: Path = arguments.data
    data.mkdir(parents=True, exist_ok=True)
    sizes = sorted({arguments.events, *arguments.scaling})
    end = RUN_DATE
    print(f"generating histories ({', '.join(f'{s:,}' for s in sizes)} events) in {data} ...")
    for size in sizes:
        write_history(history_dir(data, size), size, arguments.customers, arguments.days, end)
    history = history_dir(data, arguments.events)
    results: dict[str, Any] = {
        "events": arguments.events,
        "customers": arguments.customers,
        "days": arguments.days,
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "polars": pl.__version__,
    }
    print("main measurements (30-day window):")
    main_results = {
        kind: run_child(kind, history, 30, arguments.repeat)
        for kind in ("floor", "project", "duckdb", "full_recompute")
    }
    results["same_scores_as_duckdb"] = check_same_scores(data, history, 30)
    prepare_store(history)
    main_results["incremental"] = run_child("incremental", history, 30, arguments.repeat)
    main_results["validate_1_day"] = run_child("validate", history, 1)
    main_results["score_1_day"] = run_child("score_rows", history, 1)
    validate_days = max(1, round(arguments.validate_rows / (arguments.events / arguments.days)))
    main_results["validate_n_days"] = run_child("validate", history, validate_days)
    main_results["score_n_days"] = run_child("score_rows", history, validate_days)
    main_results["flow_overhead"] = run_child("flow_overhead", history, 30)
    results["main"] = main_results

    print("scaling (project and DuckDB, per size and window):")
    scaling = []
    for size in arguments.scaling:
        for window in arguments.windows:
            row = {"events": size, "window_days": window}
            for kind in ("project", "duckdb"):
                measured = run_child(kind, history_dir(data, size), window)
                row[f"{kind}_s"] = measured["seconds"]
                row[f"{kind}_rss_mb"] = measured["peak_rss_mb"]
            scaling.append(row)
    results["scaling"] = scaling
    results["load_average_at_end"] = os.getloadavg()
    return results


def ratios(results: dict[str, Any]) -> dict[str, float]:
    main = results["main"]
    return {
        "score_vs_duckdb": main["project"]["seconds"] / main["duckdb"]["seconds"],
        "score_vs_floor": main["project"]["seconds"] / main["floor"]["seconds"],
        "incremental_vs_full": main["incremental"]["seconds"] / main["full_recompute"]["seconds"],
        "peak_rss_gb_at_50m": max(
            (r["project_rss_mb"] for r in results["scaling"] if r["events"] >= 50_000_000),
            default=float("nan"),
        )
        / 1024,
    }


def report(results: dict[str, Any]) -> str:
    """The results as Markdown: main table with ratios and targets, then the scaling table."""
    main = results["main"]
    lines = [
        f"Synthetic history: {results['events']:,} events, {results['customers']:,} customers, "
        f"{results['days']} days; {results['cpus']} CPUs (shared; load average "
        f"{results['load_average_at_start'][0]:.1f} at start); Polars {results['polars']}.",
        "",
        "| measurement | time (s) | peak RSS (MB) |",
        "|---|---:|---:|",
    ]
    labels = {
        "floor": "bare Polars scan of the needed columns (floor)",
        "project": "project scoring, 30-day window (tasks.score.scores)",
        "duckdb": "same computation in DuckDB SQL (reference)",
        "full_recompute": "daily job, full recompute: score all raw events + write",
        "incremental": "daily job, incremental: read+validate new day, aggregates, score, write",
        "validate_1_day": "validation (GX, tasks.quality.validate) of one day",
        "score_1_day": "scoring + write of one day's events",
        "validate_n_days": f"validation (GX) of {main['validate_n_days']['rows']:,} rows",
        "score_n_days": f"scoring + write of the same {main['validate_n_days']['rows']:,} rows",
        "flow_overhead": "daily flow on a 3-row input (Prefect, steady state)",
    }
    for kind, label in labels.items():
        lines.append(f"| {label} | {main[kind]['seconds']:.2f} | {main[kind]['peak_rss_mb']:.0f} |")
    steps = main["incremental"]["steps"]
    lines += [
        "",
        "Incremental run steps (s): "
        + ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
        + f"; {main['incremental']['rows_read']:,} raw rows read "
        f"({main['incremental']['files_read']} file).",
        "",
        "| ratio | measured | target | met |",
        "|---|---:|---:|:---:|",
    ]
    for name, value in ratios(results).items():
        target = TARGETS[name]
        lines.append(
            f"| {name} | {value:.2f} | ≤ {target} | {'yes' if value <= target else 'no'} |"
        )
    overhead = main["flow_overhead"]["runs"]
    lines += [
        "",
        f"Scores identical to DuckDB's: {results['same_scores_as_duckdb']}. Flow overhead "
        "(wall minus time in steps), runs 1-3: "
        + ", ".join(f"{r['overhead']:.2f} s" for r in overhead)
        + " (run 1 includes the ephemeral server's start).",
        "",
        "| events | window (days) | project (s) | DuckDB (s) | ratio | project RSS (MB) "
        "| DuckDB RSS (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["scaling"]:
        lines.append(
            f"| {row['events']:,} | {row['window_days']} | {row['project_s']:.2f} "
            f"| {row['duckdb_s']:.2f} | {row['project_s'] / row['duckdb_s']:.2f} "
            f"| {row['project_rss_mb']:.0f} | {row['duckdb_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def plot(results: dict[str, Any], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (times, memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    for window in sorted({r["window_days"] for r in results["scaling"]}):
        rows = [r for r in results["scaling"] if r["window_days"] == window]
        millions = [r["events"] / 1e6 for r in rows]
        for kind, style in (("project", "-o"), ("duckdb", "--s")):
            label = f"{'engage' if kind == 'project' else 'DuckDB'} {window} d"
            times.plot(millions, [r[f"{kind}_s"] for r in rows], style, label=label)
            memory.plot(millions, [r[f"{kind}_rss_mb"] for r in rows], style, label=label)
    times.set(xlabel="events (millions)", ylabel="seconds", title="scoring time")
    memory.set(xlabel="events (millions)", ylabel="peak RSS (MB)", title="peak memory")
    times.legend(fontsize=7)
    memory.legend(fontsize=7)
    figure.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=110)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command")
    measure = sub.add_parser("measure")
    measure.add_argument("kind", choices=list(MEASUREMENTS))
    measure.add_argument("history", type=Path)
    measure.add_argument("--window", type=int, default=30)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--customers", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--scaling",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[5_000_000, 20_000_000, 50_000_000],
    )
    parser.add_argument(
        "--windows", type=lambda s: [int(x) for x in s.split(",")], default=[7, 30, 90]
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--validate-rows", type=int, default=2_000_000, help="rows validated by GX (memory)"
    )
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "engage-bench")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "bench_scaling.png")
    return parser.parse_args(argv)


if __name__ == "__main__":
    options = parse(sys.argv[1:])
    if options.command == "measure":
        child(options.kind, options.history, options.window)
        sys.exit(0)
    outcome = main(options)
    options.results.mkdir(parents=True, exist_ok=True)
    (options.results / "latest.json").write_text(json.dumps(outcome, indent=1, default=str))
    table = report(outcome)
    (options.results / "latest.md").write_text(table + "\n")
    plot(outcome, options.plot)
    print()
    print(table)
    print(f"\nresults: {options.results}/latest.md, plot: {options.plot}")
