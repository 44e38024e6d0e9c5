"""Extract for scale-out: the run's raw events written once, partitioned by customer bucket.

```
<staging>/_buckets/raw/bucket=<b>.parquet   the raw events of bucket b's customers, in input order
<staging>/_buckets/raw/repeats.parquet      the raw rows whose event_id hash repeats (few)
```

Each bucket's tasks read their own partition only: the bytes read across buckets are the
data once. Deduplication by event_id is the one row rule that crosses buckets (an id may be
re-delivered under another customer): every bucket also reads the rows whose id hash repeats
anywhere, and decides about its own rows exactly as one process deciding about all of them.
"""

from dataclasses import dataclass
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.aggregates import customer_bucket
from scoring.config import MAX_UNCOMPRESSED_BYTES
from scoring.events import repeated_values
from tasks.extract.files import EventFile, read_events
from tasks.publish.write import write_staged
from tasks.retry import TRANSIENT_RETRIES

RAW_DIR = Path("_buckets") / "raw"
REPEATS_FILE = "repeats.parquet"


@dataclass(frozen=True)
class BucketedRaw:
    """The staged raw events of a bucketed run: one partition per bucket, the repeats."""

    partitions: list[str]
    repeats: str
    rows: int
    partition_bytes: list[int]


def bucket_file(staging: str | Path, bucket: int) -> Path:
    return Path(staging) / RAW_DIR / f"bucket={bucket}.parquet"


def repeated_ids(raw: pl.DataFrame) -> pl.DataFrame:
    """The raw rows whose event_id's 64-bit hash occurs more than once (the only rows a
    duplicate can be among: scoring.events.later_occurrences), every column kept."""
    hashes = pl.col("event_id").hash()
    identified = raw.lazy().filter(pl.col("event_id").is_not_null()).select(hashes.alias("_hash"))
    repeated = repeated_values(identified, "_hash").collect().to_series()
    return raw.filter(pl.col("event_id").is_not_null() & hashes.is_in(repeated.implode()))


@task(
    name="extract-to-buckets",
    cache_policy=NO_CACHE,
    persist_result=False,
    **TRANSIENT_RETRIES,
)
def extract_to_buckets(
    paths: list[str],
    staging: str,
    buckets: int,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
) -> BucketedRaw:
    """Read the run's input files once and stage their raw events by customer bucket
    (scoring.aggregates.customer_bucket), with the rows whose id hash repeats."""
    raw = read_events([EventFile.of(p) for p in paths], max_uncompressed_bytes)
    directory = Path(staging) / RAW_DIR
    directory.mkdir(parents=True, exist_ok=True)
    repeats = directory / REPEATS_FILE
    write_staged(repeated_ids(raw), repeats)
    by_bucket = raw.with_columns(customer_bucket(buckets).alias("_bucket")).partition_by(
        "_bucket", as_dict=True, include_key=False
    )
    partitions = []
    for bucket in range(buckets):
        target = bucket_file(staging, bucket)
        write_staged(by_bucket.get((bucket,), raw.clear()), target)
        partitions.append(str(target))
    return BucketedRaw(
        partitions=partitions,
        repeats=str(repeats),
        rows=raw.height,
        partition_bytes=[Path(p).stat().st_size for p in partitions],
    )
