"""Write: Parquet partitions per run date, staged first and then published by renames.

Layout: `<output>/<table>/run_date=YYYY-MM-DD/part-0.parquet`. The partition key lives in the
directory name only (not inside the file) so pyarrow, pandas, DuckDB and Spark dataset readers
all agree. Files are sorted and written with fixed settings: same inputs, same bytes.
"""

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.config import canonical_json
from scoring.schema import OUTPUT_SCHEMA_VERSION, Column, polars_schema
from tasks.publish.atomic import (
    MANIFEST_FILE,
    MANIFEST_TABLE,
    describe_outputs,
    partition_dir,
    publish,
)
from tasks.publish.atomic import STAGING_DIR as STAGING_DIR
from tasks.publish.atomic import new_staging_dir as new_staging_dir

PART_FILE = "part-0.parquet"

VOLATILE_MANIFEST_KEYS = frozenset({"flow_run_id", "timings_s", "manifest_hash"})
"""Manifest entries that differ between identical runs: left out of the manifest hash."""


def to_arrow(frame: pl.DataFrame, columns: tuple[Column, ...] | None, table: str) -> pa.Table:
    """The frame as Arrow with the contract's exact types and the schema version in metadata."""
    if columns is not None:
        frame = frame.select(
            [pl.col(name).cast(dtype) for name, dtype in polars_schema(columns).items()]
        )
    arrow = frame.to_arrow()
    # plain `string` (not large/view strings): the most widely readable Parquet/Arrow type
    fields = [
        pa.field(f.name, pa.string())
        if pa.types.is_large_string(f.type) or pa.types.is_string_view(f.type)
        else f
        for f in arrow.schema
    ]
    metadata = {"engage.schema_version": OUTPUT_SCHEMA_VERSION, "engage.table": table}
    return arrow.cast(pa.schema(fields)).replace_schema_metadata(metadata)


StagedEvents = pl.DataFrame | str | list[str]
"""Events one step of a run hands to the next: in memory (the valid events of a run on event
files, scored and measured where validation left them), a work file (write_staged) at a path,
or Parquet files read as one table (the event store's days)."""


def events_of(staged: StagedEvents) -> pl.LazyFrame:
    """Staged events as a LazyFrame: the files scanned (their paths as named, never globs),
    or the frame in memory."""
    if isinstance(staged, pl.DataFrame):
        return staged.lazy()
    return pl.scan_parquet(staged, glob=False, hive_partitioning=False)


def write_staged(frame: pl.DataFrame, target: str | Path) -> Path:
    """Write a run's work file (raw or valid events, a bucket's part): read once or twice on
    the same machine within the run, so uncompressed, which writes about twice as fast as
    zstd and reads faster."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(target, compression="uncompressed")
    return target


def write_partition(
    frame: pl.DataFrame,
    table: str,
    columns: tuple[Column, ...] | None,
    staging: str | Path,
    run_date: date,
) -> Path:
    """Write one table's partition into the staging directory; returns the file path."""
    directory = partition_dir(staging, table, run_date)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / PART_FILE
    pq.write_table(
        to_arrow(frame, columns, table),
        target,
        compression="zstd",
        row_group_size=1_000_000,
        write_statistics=True,
    )
    return target


def manifest_hash(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's deterministic content (no run id, no timings): the same
    inputs and configuration give the same hash, and it covers every output file's sha256."""
    stable = {k: v for k, v in manifest.items() if k not in VOLATILE_MANIFEST_KEYS}
    return hashlib.sha256(canonical_json(stable).encode()).hexdigest()


def write_manifest(manifest: dict[str, Any], staging: str | Path, run_date: date) -> Path:
    """The run manifest (counts, config and hash, inputs, version, timings) as JSON, with
    every staged output file (path, rows, sha256) and the manifest hash added."""
    manifest = {**manifest, "outputs": describe_outputs(staging, run_date)}
    manifest = json.loads(json.dumps(manifest, default=str))
    manifest["manifest_hash"] = manifest_hash(manifest)
    directory = partition_dir(staging, MANIFEST_TABLE, run_date)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / MANIFEST_FILE
    target.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return target


@task(name="publish-outputs", cache_policy=NO_CACHE, persist_result=False)
def publish_outputs(staging: str, output: str, run_date: date) -> list[str]:
    """Publish the staged run (scores, contributions, quarantine, manifest)."""
    return [str(p) for p in publish(staging, output, run_date)]
