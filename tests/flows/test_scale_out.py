"""Scale-out: the daily flow on a local Dask cluster of 2 worker processes (prefect-dask's
DaskTaskRunner), scoring by customer hash bucket, publishes the single-process bytes."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from prefect_dask import DaskTaskRunner

from flows.daily import daily_scoring
from scoring.aggregates import customer_bucket
from scoring.config import ScoringConfig

RUN_DATE = date(2026, 3, 31)
CONFIG = ScoringConfig(window_days=10, weights={"login": 1, "invite_sent": 10, "downgrade": -15})


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(2)
    rows = 600
    start = datetime(2026, 3, 10, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(rows)],
            "customer_id": [f"c{k % 150}" for k in rng.zipf(1.3, rows)],
            "event_type": rng.choice(["login", "invite_sent", "page_view", "downgrade"], rows),
            "occurred_at": [
                start + timedelta(seconds=int(s)) for s in rng.integers(0, 25 * 86_400, rows)
            ],
        }
    )
    path = tmp_path / "events.parquet"
    frame.write_parquet(path)
    return path


def test_dask_buckets_publish_the_single_process_bytes(
    prefect_api: str, events_file: Path, tmp_path: Path
) -> None:
    single = daily_scoring(
        events=str(events_file), config=CONFIG, run_date=RUN_DATE, output=str(tmp_path / "one")
    )
    runner = DaskTaskRunner(
        cluster_kwargs={
            "n_workers": 2,
            "processes": True,
            "threads_per_worker": 1,
            "dashboard_address": None,
        }
    )
    distributed = daily_scoring.with_options(task_runner=runner)(
        events=str(events_file),
        config=CONFIG,
        run_date=RUN_DATE,
        output=str(tmp_path / "dask"),
        buckets=4,
    )
    for table in ("scores", "contributions"):
        one = tmp_path / "one" / table / "run_date=2026-03-31" / "part-0.parquet"
        dask = tmp_path / "dask" / table / "run_date=2026-03-31" / "part-0.parquet"
        assert one.read_bytes() == dask.read_bytes()
    assert distributed.scoring.tiers == single.scoring.tiers
    assert distributed.scoring.unweighted_event_types == single.scoring.unweighted_event_types
    # every bucket had customers: the merge really combined several parts
    scores = pl.read_parquet(tmp_path / "one" / "scores")
    assert scores.select(customer_bucket(4)).n_unique() == 4
    assert scores.height > 40
