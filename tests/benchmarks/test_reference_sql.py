"""The benchmark's DuckDB reference computes what the project computes (small synthetic
history), and the synthetic history has the promised shape."""

from datetime import date
from pathlib import Path

import polars as pl

from benchmarks.reference_sql import duckdb_scores
from benchmarks.synthetic import BENCH_WEIGHTS, write_history
from scoring.config import ScoringConfig
from scoring.engagement import contributions, customer_scores

RUN_DATE = date(2026, 3, 31)


def test_duckdb_reference_matches_the_project(tmp_path: Path) -> None:
    write_history(tmp_path, events=20_000, customers=3_000, days=20, end_date=RUN_DATE)
    files = sorted(str(p) for p in tmp_path.glob("event_date=*/part-0.parquet"))
    assert len(files) == 20
    events = pl.scan_parquet(files)
    config = ScoringConfig(window_days=7, weights=BENCH_WEIGHTS)
    scores, contributed = pl.collect_all(
        [customer_scores(events, config, RUN_DATE), contributions(events, config, RUN_DATE)]
    )
    sql_scores, sql_contributions = duckdb_scores(files, BENCH_WEIGHTS, RUN_DATE, 7)
    sql_scores = pl.from_arrow(sql_scores)
    assert sql_scores["customer_id"].to_list() == scores["customer_id"].to_list()
    assert sql_scores["event_count"].to_list() == scores["event_count"].to_list()
    assert (sql_scores["score"] - scores["score"]).abs().max() <= 1e-9
    assert sql_scores["last_event_at"].to_list() == scores["last_event_at"].to_list()
    assert pl.from_arrow(sql_contributions).rows() == contributed.rows()
    # Zipf-skewed: the busiest customer has far more events than the median one
    per_customer = events.group_by("customer_id").len().collect()["len"]
    assert per_customer.max() > 20 * per_customer.median()
