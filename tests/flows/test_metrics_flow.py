"""The metric tables end to end: written by the daily flow, readable, with segments."""

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds

from flows.daily import daily_scoring
from scoring.config import ScoringConfig
from scoring.schema import CUSTOMER_METRICS, SEGMENT_METRICS, polars_schema

EVENTS_CSV = """event_id,customer_id,event_type,occurred_at,value,session_id,page,duration_s
e1,alice,login,2026-03-31T10:00:00Z,,,,
e2,alice,csat_response,2026-03-20T10:00:00Z,5,,,
e3,alice,csat_response,2026-03-21T10:00:00Z, 2 ,,,
e4,bob,page_view,2026-03-15T12:00:00Z,,s1,/home,30
e5,bob,nps_response,2026-03-16T00:00:00Z,not-a-number,,,
e6,carol,login,2026-01-05T08:00:00Z,,,,
"""
CUSTOMERS_CSV = """customer_id,plan,region,signup_date
alice,pro,NA,2025-01-01
bob,free,EMEA,2026-03-10
"""


def test_flow_writes_readable_metric_tables(prefect_api: str, tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text(EVENTS_CSV)
    (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV)
    output = tmp_path / "out"
    summary = daily_scoring(
        events=str(tmp_path / "events.csv"),
        config=ScoringConfig(weights={"login": 1}),
        run_date=date(2026, 3, 31),
        output=str(output),
        customers=str(tmp_path / "customers.csv"),
    )
    assert summary.metrics is not None
    assert summary.metrics.segments == ["plan", "region", "signup_cohort"]

    customers = pl.read_parquet(output / "customer_metrics" / "run_date=2026-03-31")
    assert customers.schema == polars_schema(CUSTOMER_METRICS)
    assert customers.select("customer_id", "csat", "page_views", "nps_responses").rows() == [
        ("alice", 50.0, 0, 0),  # " 2 " is read as 2
        ("bob", None, 1, 0),  # "not-a-number" is no answer
        ("carol", None, 0, 0),
    ]
    segments = pl.read_parquet(output / "segment_metrics" / "run_date=2026-03-31")
    assert segments.schema == polars_schema(SEGMENT_METRICS)
    assert segments.filter(segment="plan", metric="score_mean").select(
        "segment_value", "value", "customers"
    ).rows() == [("free", 0.0, 1), ("pro", 1.0, 1), (None, 0.0, 1)]

    for table in ("customer_metrics", "segment_metrics"):
        rows = pl.read_parquet(output / table).height
        assert ds.dataset(output / table, partitioning="hive").to_table().num_rows == rows
        assert len(pd.read_parquet(output / table)) == rows
        glob = str(output / table / "*" / "*.parquet")
        assert duckdb.sql(f"select count(*) from read_parquet('{glob}')").fetchall() == [(rows,)]
