"""What the metric panel adds to a run, next to the scoring itself.

    .venv/bin/python -m benchmarks.metrics_panel [--customers 14000 70000] [--repeat 5]
        [--synthetic 20000000]

Data (generated once, cached under .bench/): the seeded demo events and customers table of
`--customers` customers (14,000 customers = 1,994,498 events over 90 days; every metric has
data), and with --synthetic the history of `make bench` (that many events, 500,000
customers, 90 days, one file per day as in an event store; event types only, no survey,
page or purchase properties, no customers table). On each, times the flow's steps as the
flow runs them (the task bodies, reads and writes included, on the same Parquet files):

- scoring: `score_customers` as in a run without the panel;
- scoring with totals: `score_customers(keep_totals=True)`, as in a run with the panel (the
  same pass also computes and stages the per-customer totals the panel reuses);
- panel: `compute_metrics` on the staged totals.

What the panel adds = (scoring with totals - scoring) + panel. The measurements are
interleaved round by round and the fastest of --repeat rounds is kept (wall, and CPU of all
threads: steadier on a shared machine). Then the panel's CPU by stage, as in
tasks/score/metrics.py: read the events it needs, per-customer frames, output tables and their
writes.
"""

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.synthetic import PART_FILE, write_history
from demo.data import generate_demo_events
from flows.settings import bundled_config_path, load_config
from scoring.config import ScoringConfig
from scoring.events import typed_properties
from tasks.score.metrics import compute_metrics, panel_of, read_panel_inputs, staged_tables
from tasks.score.scores import ScoreReport, score_customers

RUN_DATE = date(2026, 3, 31)
SYNTHETIC_CUSTOMERS = 500_000


def demo_files(customers: int) -> tuple[str, str]:
    """The seeded demo events and customers table for `customers` customers (cached)."""
    cache = Path(".bench") / f"metrics-{customers}"
    events_path, customers_path = cache / "events.parquet", cache / "customers.parquet"
    if not events_path.exists():
        print(f"generating demo events for {customers:,} customers (cached in {cache}) ...")
        cache.mkdir(parents=True, exist_ok=True)
        events, table = generate_demo_events(RUN_DATE, customers=customers)
        typed_properties(events.lazy()).collect().write_parquet(events_path)
        table.write_parquet(customers_path)
    return str(events_path), str(customers_path)


def synthetic_files(events: int) -> str:
    """The benchmark's synthetic history of `events` events (cached): a glob of its files."""
    root = Path(".bench") / f"synthetic-{events}"
    print(f"synthetic history of {events:,} events in {root} (generated once) ...")
    write_history(root, events, SYNTHETIC_CUSTOMERS, 90, RUN_DATE)
    return str(root / "event_date=*" / PART_FILE)


def timed(run: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of all threads, result) of one call."""
    started, started_cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - started, time.process_time() - started_cpu, result


def panel_stages(
    events_path: str,
    customers_path: str | None,
    config: ScoringConfig,
    report: ScoreReport,
    staging: str,
) -> dict[str, float]:
    """CPU seconds of the panel's stages, the steps of tasks.score.metrics.compute_metrics."""
    stages: dict[str, float] = {}
    started = time.process_time()

    def stage(name: str) -> None:
        nonlocal started
        now = time.process_time()
        stages[name] = now - started
        started = now

    events, table, totals = read_panel_inputs(
        events_path, config, RUN_DATE, customers_path, report.totals_file
    )
    stage("read")
    panel = panel_of(events, table, totals, config, RUN_DATE)
    stage("per-customer frames")
    staged_tables(panel, config, staging, RUN_DATE)
    stage("output tables and writes")
    return stages


def measure(events_path: str, customers_path: str | None, repeat: int) -> dict[str, Any]:
    config = load_config(bundled_config_path())
    staging = tempfile.mkdtemp(prefix="engage-panel-bench-")
    rows = pl.scan_parquet(events_path).select(pl.len()).collect().item()
    best: dict[str, tuple[float, float]] = {}

    def keep(name: str, wall: float, cpu: float) -> None:
        old = best.get(name, (float("inf"), float("inf")))
        best[name] = (min(old[0], wall), min(old[1], cpu))

    stages: dict[str, float] = {}
    for round_ in range(repeat):
        wall, cpu, _ = timed(lambda: score_customers.fn(events_path, config, RUN_DATE, staging))
        keep("scoring", wall, cpu)
        wall, cpu, report = timed(
            lambda: score_customers.fn(events_path, config, RUN_DATE, staging, keep_totals=True)
        )
        keep("scoring with totals", wall, cpu)
        wall, cpu, _ = timed(
            partial(
                compute_metrics.fn,
                events_path,
                config,
                RUN_DATE,
                staging,
                customers_path,
                report.totals_file,
            )
        )
        keep("panel", wall, cpu)
        measured = panel_stages(events_path, customers_path, config, report, staging)
        stages = measured if round_ == 0 else {k: min(v, measured[k]) for k, v in stages.items()}
    customers = pl.scan_parquet(events_path).select(pl.col("customer_id").n_unique()).collect()
    return {"customers": customers.item(), "events": rows, "best": best, "stages": stages}


def summary(result: dict[str, Any]) -> str:
    best, stages = result["best"], result["stages"]
    lines = [
        f"{result['events']:,} events, {result['customers']:,} customers, "
        f"{pl.thread_pool_size()} threads, Polars {pl.__version__}"
    ]
    for kind, index in (("wall", 0), ("cpu", 1)):
        scoring = best["scoring"][index]
        extra = best["scoring with totals"][index] - scoring
        panel = best["panel"][index]
        added = extra + panel
        lines.append(
            f"  {kind}: scoring {scoring:.3f} s | scoring with totals +{extra:.3f} s | "
            f"panel {panel:.3f} s | panel adds {added:.3f} s = {added / scoring:.2f} x scoring"
        )
    lines.append("  panel cpu by stage: " + ", ".join(f"{k} {v:.3f} s" for k, v in stages.items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, nargs="*", default=[14_000])
    parser.add_argument("--synthetic", type=int, default=0, help="events of make bench's history")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    datasets = [("demo", *demo_files(customers)) for customers in args.customers]
    if args.synthetic:
        datasets.append(("synthetic", synthetic_files(args.synthetic), None))
    for name, events_path, customers_path in datasets:
        print(f"{name}: " + summary(measure(events_path, customers_path, args.repeat)), flush=True)


if __name__ == "__main__":
    main()
