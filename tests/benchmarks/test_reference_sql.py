"""The benchmark's DuckDB reference computes what the project computes (small synthetic
history), and the synthetic history has the promised shape."""

from datetime import date
from pathlib import Path

import polars as pl

from benchmarks.reference_sql import duckdb_run, duckdb_scores
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


def test_duckdb_run_reference_scores_every_customer_once_per_event_id(tmp_path: Path) -> None:
    history = tmp_path / "history"
    write_history(history, events=5_000, customers=800, days=10, end_date=RUN_DATE)
    files = sorted(str(p) for p in history.glob("event_date=*/part-0.parquet"))
    # a re-delivered day: every event twice, counted once
    files.append(files[-1])
    config = ScoringConfig(window_days=7, weights=BENCH_WEIGHTS)
    target = tmp_path / "scores.parquet"
    rows = duckdb_run(files, BENCH_WEIGHTS, RUN_DATE, 7, str(target))
    expected = customer_scores(pl.scan_parquet(files[:-1]), config, RUN_DATE).collect()
    actual = pl.read_parquet(target)
    assert rows == expected.height == actual.height
    assert actual["customer_id"].to_list() == expected["customer_id"].to_list()
    assert actual["event_count"].to_list() == expected["event_count"].to_list()
    assert (actual["score"] - expected["score"]).abs().max() <= 1e-9
