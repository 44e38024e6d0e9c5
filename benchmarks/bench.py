"""`make bench`: speed and memory on a synthetic history, against DuckDB, with every ratio of
docs/performance.md printed beside its target.

Every measurement runs in a fresh subprocess (benchmarks/measures.py) that reports its wall
time and peak RSS, so one measurement's memory never inflates another's. Compared
measurements are interleaved (project, DuckDB, project, DuckDB, ...) and the fastest of each
is kept: the machine is shared, the minimum is the least disturbed, and interleaving exposes
both to the same load.

    python -m benchmarks.bench                      # 20 M events; scaling 5/20/50 M
    python -m benchmarks.bench --large              # and the 200 M-event incremental history
    python -m benchmarks.bench --events 1000000 --run-events 1000000 --scaling 1000000 \\
        --repeat 1 --buckets 4                      # a quick look
    python -m benchmarks.bench --backtest-only --repeat 2   # the tuned backtest (4 M events)
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.backtest import backtest_report, write_backtest_history
from benchmarks.measures import MEASUREMENTS, ROOT, RUN_DATE, child, prepare_store
from benchmarks.synthetic import write_history

TARGETS: dict[str, tuple[str, float]] = {
    "score_vs_duckdb": ("≤", 0.6),
    "incremental_vs_full": ("≤", 0.2),
    "run_vs_duckdb": ("≤", 1.5),
    "bucket_bytes_read_vs_data": ("≤", 1.0),
    "large_peak_rss_gb": ("<", 4.0),
}
"""Each ratio's target: (comparison, bound)."""

PROJECTION_EVENTS, PROJECTION_CUSTOMERS = 1_000_000_000, 10_000_000
PROJECTION_WORKERS = (8, 32, 128)


def history_dir(data: Path, events: int) -> Path:
    return data / f"h{events // 1_000_000}m" if events >= 1_000_000 else data / f"h{events}"


def run_child(kind: str, history: Path, window_days: int, option: int = 0) -> dict[str, Any]:
    """One measurement in a fresh subprocess."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "measure", kind, str(history)]
        + ["--window", str(window_days), "--option", str(option)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"measurement {kind} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    print(
        f"  {kind:<12} w={window_days:<3} {result['seconds']:8.2f} s "
        f"{result['peak_rss_mb']:8.0f} MB  {history.name}",
        flush=True,
    )
    return result


def interleaved(
    kinds: list[str], history: Path, window_days: int, repeat: int
) -> dict[str, dict[str, Any]]:
    """Each kind `repeat` times, interleaved; per kind its fastest run, with every run's
    seconds (`all_seconds`) and the largest peak RSS."""
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for _ in range(repeat):
        for kind in kinds:
            runs[kind].append(run_child(kind, history, window_days))
    best = {}
    for kind, results in runs.items():
        fastest = dict(min(results, key=lambda r: r["seconds"]))
        fastest["all_seconds"] = [r["seconds"] for r in results]
        fastest["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
        best[kind] = fastest
    return best


def same_scores(data: Path, history: Path, window_days: int) -> bool:
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


def projection(buckets: dict[str, Any], workers: tuple[int, ...]) -> list[dict[str, Any]]:
    """Estimated wall seconds of a full bucketed run of PROJECTION_EVENTS events and
    PROJECTION_CUSTOMERS customers on `workers` Dask workers, from the measured run: buckets
    sized like the measured ones (events per bucket), each costing the measured median per
    event; the extraction and merges (one process each) scaled by events and customers."""
    per_bucket = statistics.median(buckets["per_bucket_seconds"])
    events_per_bucket = buckets["events"] / buckets["buckets"]
    count = max(1, round(PROJECTION_EVENTS / events_per_bucket))
    extract = buckets["steps"]["extract"] * PROJECTION_EVENTS / buckets["events"]
    merge = buckets["steps"]["merge"] * PROJECTION_CUSTOMERS / buckets["customers"]
    rows = []
    for n in workers:
        waves = -(-count // n)
        rows.append(
            {
                "workers": n,
                "buckets": count,
                "extract_s": extract,
                "buckets_s": waves * per_bucket,
                "merge_s": merge,
                "total_s": extract + waves * per_bucket + merge,
            }
        )
    return rows


def backtest_results(data: Path, repeat: int) -> dict[str, Any]:
    """The tuned backtest on the cohort-shaped history, with labels and by silence."""
    history = data / "backtest-cohorts"
    print(f"generating the cohort-shaped history in {history} ...")
    summary = write_backtest_history(history)
    print("backtest (4 M events, 40 observation dates):")
    kinds = ["backtest_labels", "backtest_silence"]
    return {"backtest_history": summary, "main": interleaved(kinds, history, 30, repeat)}


def main(arguments: argparse.Namespace) -> dict[str, Any]:
    data: Path = arguments.data
    data.mkdir(parents=True, exist_ok=True)
    if arguments.backtest_only:
        return {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()} | (
            backtest_results(data, arguments.repeat)
        )
    sizes = sorted({arguments.events, arguments.run_events, *arguments.scaling})
    print(f"generating histories ({', '.join(f'{s:,}' for s in sizes)} events) in {data} ...")
    for size in sizes:
        write_history(history_dir(data, size), size, arguments.customers, arguments.days, RUN_DATE)
    history, window = history_dir(data, arguments.events), 30
    results: dict[str, Any] = {
        "events": arguments.events,
        "run_events": arguments.run_events,
        "customers": arguments.customers,
        "days": arguments.days,
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "polars": pl.__version__,
    }
    print("scoring against DuckDB (30-day window):")
    main_results = interleaved(["floor", "project", "duckdb"], history, window, arguments.repeat)
    results["same_scores_as_duckdb"] = same_scores(data, history, window)
    print("the daily job, full and incremental:")
    prepare_store(history, window)
    main_results |= interleaved(["full_daily", "incremental"], history, window, arguments.repeat)
    print(f"end to end: engage run on {arguments.run_events:,} events against DuckDB:")
    run_history = history_dir(data, arguments.run_events)
    run_child(
        "tiny_run", run_history, window
    )  # not kept: creates the shared Prefect home's database
    main_results |= interleaved(
        ["tiny_run", "run", "duckdb_run"], run_history, window, arguments.repeat
    )
    main_results["cli_engage_server"] = run_child("cli_engage_server", run_history, window)
    print(f"scale-out: {arguments.buckets} buckets:")
    main_results["buckets"] = run_child("buckets", history, window, arguments.buckets)
    results["main"] = main_results
    results["projection"] = projection(main_results["buckets"], PROJECTION_WORKERS)

    print("scaling (project and DuckDB, per size and window, interleaved):")
    scaling = []
    for size in arguments.scaling:
        for days in arguments.windows:
            measured = interleaved(
                ["project", "duckdb"], history_dir(data, size), days, arguments.scaling_repeat
            )
            row: dict[str, Any] = {"events": size, "window_days": days}
            for kind, result in measured.items():
                row[f"{kind}_s"] = result["seconds"]
                row[f"{kind}_all_s"] = result["all_seconds"]
                row[f"{kind}_rss_mb"] = result["peak_rss_mb"]
            scaling.append(row)
    results["scaling"] = scaling
    if arguments.large:
        large = history_dir(data, arguments.large_events)
        print(f"large history: {arguments.large_events:,} events, incremental:")
        write_history(
            large, arguments.large_events, arguments.large_customers, arguments.large_days,
            RUN_DATE,
        )  # fmt: skip
        prepare_store(large, window)
        results["large"] = {
            "events": arguments.large_events,
            "customers": arguments.large_customers,
            "days": arguments.large_days,
            **interleaved(["incremental"], large, window, arguments.repeat)["incremental"],
        }
    if arguments.backtest:
        measured = backtest_results(data, arguments.repeat)
        results["backtest_history"] = measured["backtest_history"]
        results["main"] |= measured["main"]
    results["load_average_at_end"] = os.getloadavg()
    return results


def ratios(results: dict[str, Any]) -> dict[str, float]:
    main = results["main"]
    marginal = main["run"]["seconds"] - main["tiny_run"]["seconds"]
    buckets = main["buckets"]
    measured = {
        "score_vs_duckdb": main["project"]["seconds"] / main["duckdb"]["seconds"],
        "incremental_vs_full": main["incremental"]["seconds"] / main["full_daily"]["seconds"],
        "run_vs_duckdb": marginal / main["duckdb_run"]["seconds"],
        # the partitions read, against the data staged once (the repeats' few rows apart)
        "bucket_bytes_read_vs_data": (
            buckets["bytes_read"] - buckets["buckets"] * buckets["repeats_bytes"]
        )
        / buckets["partition_bytes"],
    }
    if "large" in results:
        measured["large_peak_rss_gb"] = results["large"]["peak_rss_mb"] / 1024
    return measured


def met(name: str, value: float) -> bool:
    comparison, bound = TARGETS[name]
    return value <= bound if comparison == "≤" else value < bound


def _spread(result: dict[str, Any]) -> str:
    seconds = result.get("all_seconds") or result.get("runs") or [result["seconds"]]
    return f"{min(seconds):.2f}-{max(seconds):.2f}"


def report(results: dict[str, Any]) -> str:
    """The results as Markdown: measurements, steps, ratios and targets, scale-out and its
    projection, the large history, the scaling rows (and the backtest's table when it was
    measured; only that with --backtest-only)."""
    if "scaling" not in results:
        return "\n".join(backtest_report(results)).strip()
    main = results["main"]
    lines = [
        f"Synthetic history: {results['events']:,} events, {results['customers']:,} customers, "
        f"{results['days']} days; {results['cpus']} CPUs (load average "
        f"{results['load_average_at_start'][0]:.1f} at start, "
        f"{results['load_average_at_end'][0]:.1f} at end); Polars {results['polars']}. "
        "Fastest of the interleaved runs; their range beside it.",
        "",
        "| measurement | time (s) | range (s) | peak RSS (MB) |",
        "|---|---:|---:|---:|",
    ]
    labels = {
        "floor": "bare Polars scan of the needed columns (floor)",
        "project": "project scoring, 30-day window (tasks.score.scores.score_tables)",
        "duckdb": "same computation in DuckDB SQL (reference)",
        "full_daily": "daily job, full: extract, validate, score, panel, write",
        "incremental": "daily job, incremental: the new day, aggregates, score, panel, write",
        "tiny_run": "`engage run` on a 3-row file (process, Prefect server, flow)",
        "cli_engage_server": "`engage run` on a 3-row file, `engage server` running",
        "run": f"`engage run` on {results['run_events']:,} events",
        "duckdb_run": f"DuckDB: dedup, score, write Parquet ({results['run_events']:,} events)",
    }
    for kind, label in labels.items():
        result = main[kind]
        lines.append(
            f"| {label} | {result['seconds']:.2f} | {_spread(result)} "
            f"| {result['peak_rss_mb']:.0f} |"
        )
    full, incremental = main["full_daily"]["steps"], main["incremental"]["steps"]
    lines += [
        "",
        "| daily job step (s) | full | incremental |",
        "|---|---:|---:|",
    ]
    for step in ("extract", "validate", "aggregate", "score", "metrics", "write"):
        lines.append(f"| {step} | {full.get(step, 0.0):.2f} | {incremental.get(step, 0.0):.2f} |")
    lines += [
        "",
        f"Scores identical to DuckDB's: {results['same_scores_as_duckdb']}. "
        f"`engage run` marginal cost: {main['run']['seconds'] - main['tiny_run']['seconds']:.2f} s "
        f"(the {results['run_events']:,}-event run minus the 3-row run).",
        "",
        "| ratio | measured | target | met |",
        "|---|---:|---:|:---:|",
    ]
    for name, value in ratios(results).items():
        comparison, bound = TARGETS[name]
        verdict = "yes" if met(name, value) else "no"
        lines.append(f"| {name} | {value:.2f} | {comparison} {bound:g} | {verdict} |")
    buckets = main["buckets"]
    per_bucket = buckets["per_bucket_seconds"]
    lines += [
        "",
        f"Scale-out, {buckets['buckets']} buckets (task bodies one after the other): extraction "
        f"{buckets['steps']['extract']:.2f} s, bucket tasks {min(per_bucket):.2f}-"
        f"{max(per_bucket):.2f} s each (median {statistics.median(per_bucket):.2f} s, "
        f"{buckets['events'] / buckets['buckets']:,.0f} events and "
        f"{buckets['customers'] / buckets['buckets']:,.0f} customers a bucket), merges "
        f"{buckets['steps']['merge']:.2f} s. Bytes: input files "
        f"{buckets['input_bytes'] / 1e6:,.0f} MB, bucket partitions written once "
        f"{buckets['partition_bytes'] / 1e6:,.0f} MB, read by "
        f"the bucket tasks {buckets['bytes_read'] / 1e6:,.0f} MB: each its partition, and the "
        f"rows whose id hash repeats ({buckets['repeats_bytes'] / 1e3:,.1f} kB, read by every "
        "bucket).",
        "",
        f"Projection, {PROJECTION_EVENTS:,} events and {PROJECTION_CUSTOMERS:,} customers (full "
        "read, buckets of the measured size; extraction and merges in one process, scaled "
        "linearly):",
        "",
        "| Dask workers | buckets | extraction (s) | bucket tasks (s) | merges (s) | total (min) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["projection"]:
        lines.append(
            f"| {row['workers']} | {row['buckets']:,} | {row['extract_s']:,.0f} "
            f"| {row['buckets_s']:,.0f} | {row['merge_s']:,.0f} | {row['total_s'] / 60:,.1f} |"
        )
    if "large" in results:
        large = results["large"]
        lines += [
            "",
            f"Large history: {large['events']:,} events, {large['customers']:,} customers, "
            f"{large['days']} days; the incremental daily job of the last day "
            f"{large['seconds']:.2f} s, peak RSS {large['peak_rss_mb']:.0f} MB (steps: "
            + ", ".join(f"{k} {v:.2f}" for k, v in large["steps"].items())
            + ").",
        ]
    lines += [
        "",
        "| events | window (days) | project (s) | DuckDB (s) | ratio | project RSS (MB) "
        "| DuckDB RSS (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["scaling"]:
        project, duckdb = row["project_all_s"], row["duckdb_all_s"]
        lines.append(
            f"| {row['events']:,} | {row['window_days']} "
            f"| {row['project_s']:.2f} ({min(project):.2f}-{max(project):.2f}) "
            f"| {row['duckdb_s']:.2f} ({min(duckdb):.2f}-{max(duckdb):.2f}) "
            f"| {row['project_s'] / row['duckdb_s']:.2f} "
            f"| {row['project_rss_mb']:.0f} | {row['duckdb_rss_mb']:.0f} |"
        )
    if "backtest_history" in results:
        lines += backtest_report(results)
    return "\n".join(lines)


def plot(results: dict[str, Any], target: Path) -> None:
    """Scoring time and peak memory by history size and window (the scaling rows, their
    range as error bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (times, memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    for window in sorted({r["window_days"] for r in results["scaling"]}):
        rows = [r for r in results["scaling"] if r["window_days"] == window]
        millions = [r["events"] / 1e6 for r in rows]
        for kind, style in (("project", "-o"), ("duckdb", "--s")):
            label = f"{'engage' if kind == 'project' else 'DuckDB'} {window} d"
            best = [r[f"{kind}_s"] for r in rows]
            spread = [
                [0.0] * len(rows),
                [max(0.0, max(r[f"{kind}_all_s"]) - r[f"{kind}_s"]) for r in rows],
            ]
            times.errorbar(millions, best, yerr=spread, fmt=style, capsize=3, label=label)
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
    measure.add_argument("--option", type=int, default=0)

    def sizes(text: str) -> list[int]:
        return [int(x) for x in text.split(",")]

    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--run-events", type=int, default=5_000_000, help="engage run's history")
    parser.add_argument("--customers", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--scaling", type=sizes, default=[5_000_000, 20_000_000, 50_000_000])
    parser.add_argument("--windows", type=sizes, default=[7, 30, 90])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scaling-repeat", type=int, default=2)
    parser.add_argument("--buckets", type=int, default=16)
    parser.add_argument("--large", action="store_true", help="the 200 M-event history (opt-in)")
    parser.add_argument(
        "--backtest", action="store_true", help="also the tuned backtest (about 4 M events)"
    )
    parser.add_argument(
        "--backtest-only", action="store_true", help="only the tuned backtest (no scoring)"
    )
    parser.add_argument("--large-events", type=int, default=200_000_000)
    parser.add_argument("--large-customers", type=int, default=1_000_000)
    parser.add_argument("--large-days", type=int, default=365)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "engage-bench")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "bench_scaling.png")
    return parser.parse_args(argv)


if __name__ == "__main__":
    options = parse(sys.argv[1:])
    if options.command == "measure":
        child(options.kind, options.history, options.window, options.option)
        sys.exit(0)
    outcome = main(options)
    options.results.mkdir(parents=True, exist_ok=True)
    (options.results / "latest.json").write_text(json.dumps(outcome, indent=1, default=str))
    table = report(outcome)
    (options.results / "latest.md").write_text(table + "\n")
    if "scaling" in outcome:
        plot(outcome, options.plot)
    print()
    print(table)
    print(f"\nresults: {options.results}/latest.md, plot: {options.plot}")
