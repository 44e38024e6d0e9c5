"""Scale-out: the daily flow on a local Dask cluster of 2 worker processes (prefect-dask's
DaskTaskRunner) with the raw events staged by customer bucket, each bucket's per-customer steps
in one task: 4 and 16 buckets publish the single-process bytes, and each bucket's task reads
only its own partition (and the few rows whose id repeats)."""

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from prefect_dask import DaskTaskRunner

import tasks.score.buckets
from flows.daily import daily_scoring
from scoring.aggregates import customer_bucket
from scoring.config import ScoringConfig, ValidationRules
from tasks.extract.buckets import extract_to_buckets
from tasks.score.buckets import process_bucket
from tests.scoring.metrics.test_shared_totals import RUN_DATE, world, world_config

# the world's survey answers off their scales are quarantined: a budget that lets it run
CONFIG: ScoringConfig = world_config(None).model_copy(
    update={"validation": ValidationRules(error_budget=0.2)}
)


def input_files(directory: Path) -> tuple[str, str]:
    """The shared-totals world (sessions, surveys, app ties, a plan event column) in three
    files, with rows validation quarantines (no customer, a future time) and an event id
    re-delivered under another customer in a later file; and its customers table."""
    events, table = world(seed=4, rows=3000, customers=60)
    frame = events.collect()
    bad = frame.head(3).with_columns(
        pl.Series("event_id", ["bad-1", "bad-2", "dup-x"]),
        pl.Series("customer_id", [None, "c1", "c7"]),
        pl.Series(
            "occurred_at",
            [datetime(2026, 3, 20, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)] * 1
            + [datetime(2026, 3, 21, tzinfo=UTC)],
        ),
    )
    redelivered = bad.tail(1).with_columns(pl.lit("c9").alias("customer_id"))
    parts = [frame.head(1500), pl.concat([frame.slice(1500), bad]), redelivered]
    directory.mkdir(parents=True)
    for number, part in enumerate(parts):
        part.write_parquet(directory / f"events-{number}.parquet")
    customers = directory.parent / "customers.parquet"
    plans = pl.Series("plan", ["free", "pro", "enterprise"]).gather(
        pl.int_range(0, 30, eager=True) % 3
    )
    table.collect().with_columns(plans.head(table.collect().height)).write_parquet(customers)
    return str(directory / "*.parquet"), str(customers)


def published(output: Path) -> dict[str, bytes]:
    """Every published Parquet table of the run date, by table."""
    day = f"run_date={RUN_DATE}"
    return {
        path.parent.parent.name: path.read_bytes() for path in output.glob(f"*/{day}/*.parquet")
    }


def test_dask_buckets_publish_the_single_process_bytes(prefect_api: str, tmp_path: Path) -> None:
    events, customers = input_files(tmp_path / "events")
    arguments = {"events": events, "config": CONFIG, "run_date": RUN_DATE, "customers": customers}
    single = daily_scoring(**arguments, output=str(tmp_path / "one"))
    expected = published(tmp_path / "one")
    assert {"scores", "contributions", "customer_metrics", "segment_metrics", "quarantine",
            "score_history", "flags"} <= set(expected)  # fmt: skip
    assert single.validation.rows_quarantined > 2 and single.validation.duplicates_removed == 1
    runner = DaskTaskRunner(
        cluster_kwargs={
            "n_workers": 2,
            "processes": True,
            "threads_per_worker": 1,
            "dashboard_address": None,
        }
    )
    for buckets in (4, 16):
        output = tmp_path / f"dask-{buckets}"
        distributed = daily_scoring.with_options(task_runner=runner)(
            **arguments, output=str(output), buckets=buckets
        )
        assert published(output) == expected, buckets
        assert distributed.validation == single.validation.__class__(
            **{**single.validation.__dict__, "valid_path": distributed.validation.valid_path,
               "quarantine_file": distributed.validation.quarantine_file}
        )  # fmt: skip
    # every bucket had customers: the merges really combined several parts
    scores = pl.read_parquet(tmp_path / "one" / "scores")
    assert scores.select(customer_bucket(16)).n_unique() == 16


def test_a_bucket_reads_only_its_partition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events, customers = input_files(tmp_path / "events")
    paths = sorted(str(p) for p in Path(events).parent.glob("*.parquet"))
    staging = str(tmp_path / "staging")
    raw = extract_to_buckets.fn(paths, staging, 4)
    assert raw.rows == sum(pl.read_parquet(p).height for p in raw.partitions)
    read: list[str] = []
    original = pl.read_parquet

    def recorded(source: str, *args: object, **kwargs: object) -> pl.DataFrame:
        read.append(str(source))
        return original(source, *args, **kwargs)

    monkeypatch.setattr(tasks.score.buckets.pl, "read_parquet", recorded)
    now = datetime.now(UTC)
    for bucket in range(4):
        read.clear()
        part = process_bucket.fn(raw, bucket, CONFIG, RUN_DATE, now, staging, customers)
        own = str(tasks.score.buckets.bucket_dir(staging, bucket))
        # besides its own staged files and the customers table (attributes, not events)
        inputs = [p for p in read if not p.startswith(own) and p != customers]
        assert inputs == [raw.partitions[bucket], raw.repeats], bucket
        assert part.bytes_read == raw.partition_bytes[bucket] + Path(raw.repeats).stat().st_size
    # the repeats are the few rows whose id hash repeats: here the re-delivered id
    assert pl.read_parquet(raw.repeats)["event_id"].to_list() == ["dup-x", "dup-x"]
