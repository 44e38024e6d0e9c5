"""The one-line readers of docs/outputs.md: each reads `run_date` (the partition key, kept in
the directory names only) as a date. pandas and pyarrow infer a string (a category in pandas)
unless told the key's type; DuckDB and Polars infer the date."""

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from scoring.schema import SCORES
from tasks.publish.write import write_partition

DATES = (date(2026, 3, 30), date(2026, 3, 31))


@pytest.fixture
def scores(tmp_path: Path) -> Path:
    for run_date in DATES:
        frame = pl.DataFrame(
            {
                "customer_id": ["a"],
                "score": [1.0],
                "tier": ["very_disengaged"],
                "event_count": [1],
                "last_event_at": [datetime(2026, 3, 30, tzinfo=UTC)],
            }
        )
        write_partition(frame, "scores", SCORES, tmp_path, run_date)
    return tmp_path / "scores"


def test_pandas_and_pyarrow_read_a_date_when_told_the_key_type(scores: Path) -> None:
    assert isinstance(pd.read_parquet(scores)["run_date"].dtype, pd.CategoricalDtype)  # untold
    run_date = ds.partitioning(pa.schema([("run_date", pa.date32())]), flavor="hive")
    frame = pd.read_parquet(scores, partitioning=run_date)
    assert sorted(frame["run_date"]) == list(DATES)  # datetime.date values
    table = ds.dataset(scores, format="parquet", partitioning=run_date).to_table()
    assert table.schema.field("run_date").type == pa.date32()


def test_duckdb_and_polars_infer_the_date(scores: Path) -> None:
    glob = f"{scores}/*/*.parquet"
    query = f"select distinct run_date from read_parquet('{glob}', hive_partitioning=true)"
    assert sorted(row[0] for row in duckdb.sql(query).fetchall()) == list(DATES)
    assert pl.read_parquet(scores).schema["run_date"] == pl.Date
