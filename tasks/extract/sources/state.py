"""Incremental extraction state, kept with the outputs under `<output>/_state/`.

```
_state/watermarks/<source>.json                       how far a source has been read
_state/events/event_date=YYYY-MM-DD/part-0.parquet    the raw event store (valid events)
```

- **Watermark**: the end (exclusive, UTC) of what the last *published* run of a source read.
  The next run reads `[watermark - lookback_days, end of its run date)`; a first run (or a
  source with `incremental: false`) reads everything up to the end of its run date.
- **Event store**: scoring needs the whole window, but a run only reads what is new, so every
  run adds its valid events to the store and scores from the store. One Parquet file per UTC
  event date (partition key in the directory name only), deduplicated by `event_id` across
  the whole store: re-reading the lookback, or retrying a run, adds nothing twice. Columns:
  the four required ones (contract types), the optional event columns as text (null when the
  source has none) and the provenance `source_file` / `source_row`; other columns are not kept.
- **Late events**: events added by a run that occurred before the previous watermark. Every
  other published run date on or after such an event's date gave a score without it; the
  manifest lists them (`extraction.late_events.affected_run_dates`) so they can be rerun.
"""

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import polars as pl

from scoring.schema import (
    OPTIONAL_EVENT_COLUMNS,
    REQUIRED_EVENT_COLUMNS,
    SOURCE_FILE,
    SOURCE_ROW,
)
from tasks.extract.sources.base import ExtractWindow

STATE_DIR = "_state"
WATERMARKS_DIR = "watermarks"
EVENTS_DIR = "events"
PART_FILE = "part-0.parquet"

STORE_SCHEMA = pl.Schema(
    {c.name: c.dtype for c in REQUIRED_EVENT_COLUMNS}
    | {c.name: pl.String() for c in OPTIONAL_EVENT_COLUMNS}
    | {SOURCE_FILE: pl.String(), SOURCE_ROW: pl.Int64()}
)
"""Columns of the event store files (all files have exactly these)."""


def end_of_day(day: date) -> datetime:
    """The first instant after `day` (UTC): the exclusive end of a run date."""
    return datetime.combine(day + timedelta(days=1), time(), UTC)


# ---------------------------------------------------------------- watermarks


def watermark_path(output: str | Path, source: str) -> Path:
    return Path(output) / STATE_DIR / WATERMARKS_DIR / f"{source}.json"


def read_watermark(output: str | Path, source: str) -> datetime | None:
    """The end of what the source's last published run read; None before the first run."""
    path = watermark_path(output, source)
    if not path.exists():
        return None
    try:
        return datetime.fromisoformat(json.loads(path.read_text())["extracted_until"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{path}: unreadable watermark ({error}); delete it to read the source in full again"
        ) from error


def write_watermark(
    output: str | Path, source: str, extracted_until: datetime, run_date: date
) -> Path:
    """Record how far the source has been read (atomically: write, then rename)."""
    path = watermark_path(output, source)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
    document = {
        "source": source,
        "extracted_until": extracted_until.isoformat(),
        "run_date": run_date.isoformat(),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(temporary, path)
    return path


def extraction_window(
    previous: datetime | None, run_date: date, lookback_days: int, incremental: bool
) -> ExtractWindow:
    """What a run reads: since the watermark minus the lookback, up to the run date's end.

    A rerun of an older date (watermark past its end) still re-reads its lookback days.
    """
    end = end_of_day(run_date)
    if not incremental or previous is None:
        return ExtractWindow(start=None, end=end)
    return ExtractWindow(start=min(previous, end) - timedelta(days=lookback_days), end=end)


# ---------------------------------------------------------------- event store


def events_dir(output: str | Path) -> Path:
    return Path(output) / STATE_DIR / EVENTS_DIR


def store_files(output: str | Path) -> list[Path]:
    """Every partition file of the event store, by event date."""
    return sorted(events_dir(output).glob(f"event_date=*/{PART_FILE}"))


def stored_events(output: str | Path) -> pl.LazyFrame:
    """The whole event store (empty with the store's schema when nothing is stored yet)."""
    files = store_files(output)
    if not files:
        return pl.LazyFrame(schema=STORE_SCHEMA)
    return pl.scan_parquet(files, hive_partitioning=False, glob=False)


def store_rows(valid: pl.LazyFrame) -> pl.LazyFrame:
    """Valid events in the store's columns (absent optional columns as null text)."""
    present = set(valid.collect_schema().names())
    return valid.select(
        [
            (pl.col(name) if name in present else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in STORE_SCHEMA.items()
        ]
    )


@dataclass(frozen=True)
class StoreReport:
    """What adding a run's valid events to the store did."""

    events_added: int
    events_already_stored: int
    event_dates_added: list[str]
    late_events: int
    late_event_dates: list[str]
    store_events: int
    files_changed: list[str] = field(default_factory=list)


def add_to_store(
    valid: pl.DataFrame, output: str | Path, previous_watermark: datetime | None
) -> StoreReport:
    """Add the events whose `event_id` is not stored yet, one partition per event date.

    Each touched partition is rewritten whole (sorted, then renamed into place), so a reader
    or a crash sees the old or the new file. Late events: added ones before the previous
    watermark.
    """
    known_ids = stored_events(output).select("event_id")
    new = (
        store_rows(valid.lazy())
        .join(known_ids, on="event_id", how="anti")
        .with_columns(pl.col("occurred_at").dt.date().alias("_event_date"))
        .collect()
    )
    changed = []
    for (day,), rows in sorted(new.partition_by("_event_date", as_dict=True).items()):
        directory = events_dir(output) / f"event_date={day.isoformat()}"
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / PART_FILE
        merged = pl.concat(
            [
                pl.read_parquet(target, glob=False)
                if target.exists()
                else pl.DataFrame(schema=STORE_SCHEMA),
                rows.drop("_event_date"),
            ]
        ).sort("occurred_at", "event_id")
        temporary = directory / f".{uuid.uuid4().hex[:8]}.parquet.tmp"
        merged.write_parquet(temporary, compression="zstd", statistics=True)
        os.replace(temporary, target)
        changed.append(str(target))
    late = (
        new.filter(pl.col("occurred_at") < previous_watermark)
        if previous_watermark is not None
        else new.clear()
    )
    return StoreReport(
        events_added=new.height,
        events_already_stored=valid.height - new.height,
        event_dates_added=[d.isoformat() for d in new["_event_date"].unique().sort()],
        late_events=late.height,
        late_event_dates=[d.isoformat() for d in late["_event_date"].unique().sort()],
        store_events=stored_events(output).select(pl.len()).collect().item(),
        files_changed=changed,
    )


def affected_run_dates(
    late_event_dates: list[str], published: list[date], run_date: date
) -> list[str]:
    """Published run dates (other than this run's) on or after a late event's date: their
    scores, rows or last_event_at were computed without it."""
    if not late_event_dates:
        return []
    earliest = min(date.fromisoformat(d) for d in late_event_dates)
    return [d.isoformat() for d in published if d >= earliest and d != run_date]
