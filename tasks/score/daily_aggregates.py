"""The daily aggregate store: what an incremental daily run keeps between runs.

```
<output>/_state/daily_aggregates/
    state.json                 the input files aggregated: size, mtime, first/last event day
    event_counts/<key>.parquet daily counts of one input file (scoring.aggregates)
    last_events.parquet        each customer's latest event over the whole store
```

A run lists its input files (cheap: no reading), re-reads only the files that are new or
changed since they were aggregated (size or mtime differs) — so a new day, and late events
appended to any older file, are picked up — and replaces those files' aggregates. The window
is then scored from the aggregates of the files whose days overlap it: a few bytes per
customer, event type and day instead of the raw history. Weights, tiers, window and decay are
applied at scoring time, so a changed configuration needs no rebuild.

More daily tables (a metric's own daily aggregates) are added to `DAILY_TABLES`: a pure
function from valid events to rows keyed by an `event_date` column; the store keeps, replaces
and drops them per input file like `event_counts`, and `scan_daily(output, name, first, last)`
reads the days a window needs.

Exactness: the aggregates equal those of a full read as long as duplicate `event_id`s sit in
files read in the same run (a re-delivery within a file or a day's partition); duplicates
across files are removed by the event store of issue 4 when it feeds this store.
"""

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.aggregates import (
    CUSTOMER_LAST_EVENTS,
    DAILY_EVENT_COUNTS,
    EVENT_DATE,
    customer_last_events,
    daily_event_counts,
    latest_events,
    window_start_date,
    window_totals_from_daily,
)
from scoring.config import ScoringConfig
from scoring.schema import SOURCE_FILE

AGGREGATES_DIR = Path("_state") / "daily_aggregates"
STATE_FILE = "state.json"
LAST_EVENTS_FILE = "last_events.parquet"
STATE_VERSION = 1

DAILY_TABLES: dict[str, tuple[Callable[[pl.LazyFrame], pl.LazyFrame], pl.Schema]] = {
    "event_counts": (daily_event_counts, DAILY_EVENT_COUNTS),
}
"""Daily tables kept per input file: name -> (valid events -> daily rows, their schema)."""


def store_dir(output: str | Path) -> Path:
    return Path(output) / AGGREGATES_DIR


def file_key(path: str) -> str:
    """The name of an input file's aggregates: a digest of its path."""
    return hashlib.sha256(path.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Fingerprint:
    """How an input file looked when it was aggregated."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str) -> "Fingerprint":
        stat = os.stat(path)
        return cls(size=stat.st_size, mtime_ns=stat.st_mtime_ns)


@dataclass(frozen=True)
class StoreState:
    """state.json: per aggregated input file its fingerprint and event days."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_events_through: str | None = None

    @classmethod
    def read(cls, output: str | Path) -> "StoreState":
        path = store_dir(output) / STATE_FILE
        if not path.exists():
            return cls()
        try:
            document = json.loads(path.read_text())
        except ValueError as error:
            raise ValueError(
                f"{path}: unreadable aggregate state ({error}); delete {store_dir(output)} "
                "to rebuild the aggregates from the raw events"
            ) from error
        if document.get("version") != STATE_VERSION:
            return cls()  # an older layout: rebuilt from the raw events
        return cls(document["files"], document.get("last_events_through"))

    def write(self, output: str | Path) -> None:
        document = {
            "version": STATE_VERSION,
            "files": self.files,
            "last_events_through": self.last_events_through,
        }
        _atomic_write_text(store_dir(output) / STATE_FILE, json.dumps(document, indent=1))

    def days_overlap(self, first: date, last: date) -> list[str]:
        """Aggregated files with an event day between first and last (inclusive)."""
        return sorted(
            path
            for path, entry in self.files.items()
            if entry["first_day"] is not None
            and date.fromisoformat(entry["first_day"]) <= last
            and date.fromisoformat(entry["last_day"]) >= first
        )


@dataclass(frozen=True)
class AggregatePlan:
    """What an incremental run must (re)read, and which aggregated files are gone."""

    read: list[str]
    dropped: list[str]
    unchanged: int
    fingerprints: dict[str, dict[str, int]] = field(default_factory=dict)
    """Of the files to read, taken before reading: a file changed after that is read again."""


def plan_refresh(files: list[str], state: StoreState) -> AggregatePlan:
    """New or changed input files are read; aggregated files no longer listed are dropped.

    When nothing changed, the newest file is read again (a run always validates something;
    its aggregates come out the same).
    """
    changed = [
        path
        for path in files
        if path not in state.files
        or Fingerprint(**state.files[path]["fingerprint"]) != Fingerprint.of(path)
    ]
    if not changed and files:
        changed = [max(files)]
    dropped = sorted(set(state.files) - set(files))
    return AggregatePlan(
        read=changed,
        dropped=dropped,
        unchanged=len(files) - len(changed),
        fingerprints={path: asdict(Fingerprint.of(path)) for path in changed},
    )


def _atomic_write_text(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{uuid.uuid4().hex[:8]}.tmp")
    temporary.write_text(text)
    os.replace(temporary, target)


def _atomic_write_parquet(frame: pl.DataFrame, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{uuid.uuid4().hex[:8]}.tmp")
    frame.write_parquet(temporary, compression="zstd", statistics=True)
    os.replace(temporary, target)


def table_file(output: str | Path, table: str, path: str) -> Path:
    return store_dir(output) / table / f"{file_key(path)}.parquet"


def scan_daily(
    output: str | Path, table: str, first: date, last: date, state: StoreState | None = None
) -> pl.LazyFrame:
    """A daily table's rows with first <= event_date <= last, reading only the files of the
    input files whose days overlap."""
    state = state or StoreState.read(output)
    paths = [table_file(output, table, p) for p in state.days_overlap(first, last)]
    schema = DAILY_TABLES[table][1]
    if not paths:
        return pl.LazyFrame(schema=schema)
    return pl.scan_parquet(paths, schema=schema).filter(
        pl.col(EVENT_DATE).is_between(pl.lit(first), pl.lit(last))
    )


def _last_events_of_all(output: str | Path, state: StoreState) -> pl.DataFrame:
    paths = [table_file(output, "event_counts", p) for p in state.files]
    if not paths:
        return pl.DataFrame(schema=CUSTOMER_LAST_EVENTS)
    counts = pl.scan_parquet(paths, schema=DAILY_EVENT_COUNTS)
    return counts.group_by("customer_id").agg(pl.col("last_event_at").max()).collect()


def _shrank(old: pl.DataFrame, new: pl.DataFrame) -> bool:
    """True when a re-read file lost a customer's latest event (not a pure append)."""
    latest_old = old.group_by("customer_id").agg(pl.col("last_event_at").max())
    latest_new = new.group_by("customer_id").agg(pl.col("last_event_at").max().alias("_new"))
    lost = latest_old.join(latest_new, on="customer_id", how="left").filter(
        pl.col("_new").is_null() | (pl.col("_new") < pl.col("last_event_at"))
    )
    return lost.height > 0


@dataclass(frozen=True)
class AggregateReport:
    """What refreshing the store did (small: goes into logs and the manifest)."""

    files_read: int
    files_unchanged: int
    files_dropped: int
    rows_aggregated: int
    store_rows: int
    last_events_rebuilt: bool


def refresh_aggregates(valid_path: str, plan: AggregatePlan, output: str | Path) -> AggregateReport:
    """Replace the aggregates of the re-read files with those of their valid events, drop
    those of vanished files, and bring `last_events` up to date."""
    state = StoreState.read(output)
    valid = pl.scan_parquet(valid_path)
    files = dict(state.files)
    rebuild_last = bool(plan.dropped) or (state.last_events_through is None and bool(files))
    new_latest: list[pl.LazyFrame] = []
    rows = 0
    for path in plan.read:
        of_file = valid.filter(pl.col(SOURCE_FILE) == path)
        frames = {
            table: daily(of_file)
            .sort([c for c in (EVENT_DATE, "customer_id") if c in schema])
            .collect()
            for table, (daily, schema) in DAILY_TABLES.items()
        }
        counts = frames["event_counts"]
        target = table_file(output, "event_counts", path)
        if target.exists() and not rebuild_last:
            rebuild_last = _shrank(pl.read_parquet(target), counts)
        new_latest.append(counts.lazy())
        rows += counts.height
        for table, frame in frames.items():
            _atomic_write_parquet(frame, table_file(output, table, path))
        days = counts[EVENT_DATE]
        files[path] = {
            "key": file_key(path),
            "fingerprint": plan.fingerprints.get(path) or asdict(Fingerprint.of(path)),
            "first_day": days.min().isoformat() if counts.height else None,
            "last_day": days.max().isoformat() if counts.height else None,
        }
    for path in plan.dropped:
        files.pop(path)
        for table in DAILY_TABLES:
            table_file(output, table, path).unlink(missing_ok=True)
    state = StoreState(files, state.last_events_through)
    last_path = store_dir(output) / LAST_EVENTS_FILE
    if rebuild_last or not last_path.exists():
        latest = _last_events_of_all(output, state)
    else:
        latest = latest_events(pl.scan_parquet(last_path), *new_latest).collect()
    _atomic_write_parquet(latest.sort("customer_id"), last_path)
    last_days = [e["last_day"] for e in files.values() if e["last_day"] is not None]
    StoreState(files, max(last_days, default=None)).write(output)
    store_rows = sum(
        pl.scan_parquet(table_file(output, "event_counts", p)).select(pl.len()).collect().item()
        for p in files
    )
    return AggregateReport(
        files_read=len(plan.read),
        files_unchanged=plan.unchanged,
        files_dropped=len(plan.dropped),
        rows_aggregated=rows,
        store_rows=store_rows,
        last_events_rebuilt=rebuild_last,
    )


def last_events_at(output: str | Path, run_date: date, state: StoreState) -> pl.LazyFrame:
    """Every customer seen on or before the run date and their latest event: the kept
    `last_events` when the store holds nothing later than the run date (a daily run), else
    computed from the daily counts (a rerun of an older date)."""
    through = state.last_events_through
    if through is None:
        return pl.LazyFrame(schema=CUSTOMER_LAST_EVENTS)
    if date.fromisoformat(through) <= run_date:
        return pl.scan_parquet(store_dir(output) / LAST_EVENTS_FILE)
    history = scan_daily(output, "event_counts", date.min, run_date, state)
    return customer_last_events(history, run_date)


def window_totals_from_store(
    output: str | Path, config: ScoringConfig, run_date: date
) -> tuple[pl.DataFrame, pl.LazyFrame]:
    """(window totals, customers' latest events) for the run date, from the store only."""
    state = StoreState.read(output)
    first = window_start_date(run_date, config.window_days)
    daily = scan_daily(output, "event_counts", first, run_date, state)
    totals = window_totals_from_daily(daily, config, run_date).collect()
    return totals, last_events_at(output, run_date, state)


@task(name="plan-aggregates", cache_policy=NO_CACHE, persist_result=False)
def plan_aggregates(files: list[str], output: str) -> AggregatePlan:
    """Which input files an incremental run must read (new or changed ones)."""
    return plan_refresh(files, StoreState.read(output))


@task(name="refresh-aggregates", cache_policy=NO_CACHE, persist_result=False)
def refresh_daily_aggregates(valid_path: str, plan: AggregatePlan, output: str) -> AggregateReport:
    """Update the daily aggregate store from the run's valid events."""
    return refresh_aggregates(valid_path, plan, output)
