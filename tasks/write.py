"""Write: Parquet partitions per run date, staged first and then published by renames.

Layout: `<output>/<table>/run_date=YYYY-MM-DD/part-0.parquet`. The partition key lives in the
directory name only (not inside the file) so pyarrow, pandas, DuckDB and Spark dataset readers
all agree. Files are sorted and written with fixed settings: same inputs, same bytes.
"""

import json
import shutil
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.schema import OUTPUT_SCHEMA_VERSION, Column, polars_schema

STAGING_DIR = "_staging"
MANIFEST_TABLE = "runs"
PART_FILE = "part-0.parquet"


def partition_dir(root: str | Path, table: str, run_date: date) -> Path:
    """Where a table's partition for a run date lives under `root`."""
    return Path(root) / table / f"run_date={run_date.isoformat()}"


def new_staging_dir(output: str | Path, run_date: date) -> Path:
    """A fresh private directory for one run's files before they are published."""
    path = Path(output) / STAGING_DIR / f"{run_date.isoformat()}-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    return path


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


def write_manifest(manifest: dict[str, Any], staging: str | Path, run_date: date) -> Path:
    """The run manifest (counts, config and hash, inputs, version, timings) as JSON."""
    directory = partition_dir(staging, MANIFEST_TABLE, run_date)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "manifest.json"
    target.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return target


def publish(staging: str | Path, output: str | Path, run_date: date) -> list[Path]:
    """Move every staged partition of the run date into place, replacing the old one whole.

    Each partition directory is swapped by renames on the same file system, so a reader sees
    the old or the new partition, never a mix.
    """
    staging, output = Path(staging), Path(output)
    published = []
    for staged in sorted(staging.glob(f"*/run_date={run_date.isoformat()}")):
        table = staged.parent.name
        target = partition_dir(output, table, run_date)
        target.parent.mkdir(parents=True, exist_ok=True)
        retired = staging / "_retired" / table
        if target.exists():
            retired.parent.mkdir(parents=True, exist_ok=True)
            target.rename(retired)
        staged.rename(target)
        published.append(target)
    shutil.rmtree(staging)
    if not any(staging.parent.iterdir()):
        staging.parent.rmdir()
    return published


@task(name="publish-outputs", cache_policy=NO_CACHE, persist_result=False)
def publish_outputs(staging: str, output: str, run_date: date) -> list[str]:
    """Publish the staged run (scores, contributions, quarantine, manifest)."""
    return [str(p) for p in publish(staging, output, run_date)]
