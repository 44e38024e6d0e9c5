"""How long the metric panel takes next to the scoring itself, on ~2M demo events.

    .venv/bin/python benchmarks/metrics_panel.py [--customers 14000] [--repeat 3]

Generates the seeded demo events (cached under .bench/), then times, on the same Parquet file
the flow reads, (1) scoring: scores + contributions + unweighted types as in tasks/score.py,
(2) the panel: customer_metrics + segment_metrics as in tasks/metrics.py, reusing the
scores as the flow does. Best of --repeat, plus the panel's CPU seconds per stage (read the
events, per-customer frames, output tables).
"""

import argparse
import time
from datetime import date
from pathlib import Path

import polars as pl

from flows.settings import bundled_config_path, load_config
from scoring.engagement import contributions, customer_scores, unweighted_event_types
from scoring.events import typed_properties
from scoring.metrics.panel import (
    customer_metrics,
    metric_panel,
    panel_columns,
    segment_metrics,
)
from tasks.demo_data import generate_demo_events
from tasks.metrics import materialized

RUN_DATE = date(2026, 3, 31)


def best_of(repeat: int, run) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(best wall seconds, best CPU seconds of all threads): CPU time is steadier on a
    machine shared with other jobs."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=14_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cache = Path(".bench") / f"metrics-{args.customers}"
    cache.mkdir(parents=True, exist_ok=True)
    events_path, customers_path = cache / "events.parquet", cache / "customers.parquet"
    if not events_path.exists():
        events, customers = generate_demo_events(RUN_DATE, customers=args.customers)
        typed_properties(events.lazy()).collect().write_parquet(events_path)
        customers.write_parquet(customers_path)
    config = load_config(bundled_config_path())
    events = pl.scan_parquet(events_path)
    table = pl.read_parquet(customers_path).lazy()
    rows = events.select(pl.len()).collect().item()

    def score() -> None:
        pl.collect_all(
            [
                customer_scores(events, config, RUN_DATE),
                contributions(events, config, RUN_DATE),
                unweighted_event_types(events, config, RUN_DATE),
            ]
        )

    scores = customer_scores(events, config, RUN_DATE).collect().lazy()

    stages: dict[str, float] = {}

    def stage(name: str, started: float) -> float:
        now = time.process_time()
        stages[name] = min(stages.get(name, float("inf")), now - started)
        return now

    def panel() -> None:
        started = time.process_time()
        columns = panel_columns(config, pl.scan_parquet(events_path).collect_schema().names())
        in_memory = pl.read_parquet(events_path, columns=columns).lazy()  # as tasks/metrics.py
        started = stage("read", started)
        built = materialized(metric_panel(in_memory, config, RUN_DATE, table, scores))
        started = stage("per-customer frames", started)
        pl.collect_all([customer_metrics(built.customers), segment_metrics(built, config)])
        stage("output tables", started)

    scoring_s, scoring_cpu = best_of(args.repeat, score)
    panel_s, panel_cpu = best_of(args.repeat, panel)
    print(f"events: {rows:,}  customers: {args.customers:,}  threads: {pl.thread_pool_size()}")
    print(f"wall: scoring {scoring_s:.2f} s, metric panel {panel_s:.2f} s, "
          f"panel / scoring {panel_s / scoring_s:.2f}")  # fmt: skip
    print(f"cpu:  scoring {scoring_cpu:.2f} s, metric panel {panel_cpu:.2f} s, "
          f"panel / scoring {panel_cpu / scoring_cpu:.2f}")  # fmt: skip
    print("panel cpu by stage: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))


if __name__ == "__main__":
    main()
