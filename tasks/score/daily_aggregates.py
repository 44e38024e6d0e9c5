"""The daily aggregate store: what an incremental daily run keeps between runs.

```
<output>/_state/daily_aggregates/
    state.json                 the input files aggregated: size, mtime, first/last event day,
                               columns, rows per table; the metric vocabulary of the panel's
    event_counts/<key>.parquet daily counts of one input file (scoring.aggregates)
    <panel table>/<key>.parquet the metric panel's daily tables of one input file
                               (scoring.metrics.panel_days: customer_days, session_days, ...)
    last_events.parquet        each customer's latest event over the whole store
    first_days.parquet         the first day of each customer, of any event and per history type
    app_latest.parquet         the latest app install and uninstall of each customer
    attribute_history.parquet  each customer's latest value of each attribute event column
    running_totals.parquet     the last daily run's window totals, slid by the next day's run
                               (tasks/score/running_totals.py)
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

The panel's tables depend on the metric vocabulary (event types, survey scales, attribute
columns: panel_days.panel_vocabulary): a run under another vocabulary reads every input file
again once and rebuilds them. The history tables are merged with each new file's rows;
they are rebuilt from every file's rows when a file already aggregated changed or vanished.
(The first days are merged without grouping the kept ones again: the merge is an anti-join of
the new or earlier days.)

Exactness: the aggregates equal those of a full read as long as duplicate `event_id`s sit in
files read in the same run (a re-delivery within a file or a day's partition); duplicates
across files are removed by the event store of issue 4 when it feeds this store.
"""

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from scoring.events import typed_properties
from scoring.metrics.day_schemas import (
    APP_LATEST,
    ATTRIBUTE_DAYS,
    CUSTOMER_DAYS,
    FEATURE_DAYS,
    PAGE_DAYS,
    PURCHASE_DAYS,
    SESSION_DAYS,
    TYPE_DAYS,
)
from scoring.metrics.day_sessions import repeated_session_keys
from scoring.metrics.panel_days import (
    app_latest,
    attribute_days,
    attribute_history,
    customer_days,
    feature_days,
    first_days,
    merged_first_days,
    page_days,
    panel_vocabulary,
    purchase_days,
    session_days,
    type_days,
)
from scoring.metrics.panel_of_days import PanelDays, day_ranges
from scoring.schema import SOURCE_FILE

AGGREGATES_DIR = Path("_state") / "daily_aggregates"
STATE_FILE = "state.json"
LAST_EVENTS_FILE = "last_events.parquet"
STATE_VERSION = 1

DAILY_TABLES: dict[str, tuple[Callable[[pl.LazyFrame], pl.LazyFrame], pl.Schema]] = {
    "event_counts": (daily_event_counts, DAILY_EVENT_COUNTS),
}
"""Daily tables kept per input file: name -> (valid events -> daily rows, their schema)."""

PANEL_TABLES: dict[str, pl.Schema] = {
    "customer_days": CUSTOMER_DAYS,
    "session_days": SESSION_DAYS,
    "page_days": PAGE_DAYS,
    "feature_days": FEATURE_DAYS,
    "purchase_days": PURCHASE_DAYS,
    "type_days": TYPE_DAYS,
    "attribute_days": ATTRIBUTE_DAYS,
}
"""The metric panel's daily tables kept per input file (built with the configuration)."""
HISTORY_FILES = {
    "first_days.parquet": "type_days",
    "app_latest.parquet": "type_days",
    "attribute_history.parquet": "attribute_days",
}
"""The running history tables and the daily table each merges."""


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


class AggregateStoreError(ValueError):
    """The daily aggregate store cannot be read (a torn or foreign state file): its message
    names the file and says to delete the store, which the next incremental run rebuilds."""


@contextmanager
def store_read(output: str | Path) -> Iterator[None]:
    """Reading the store: a file of it that is missing or not Parquet (torn, or written by
    something else) is AggregateStoreError, naming the store and the fix."""
    try:
        yield
    except (pl.exceptions.ComputeError, FileNotFoundError) as error:
        problem = next(iter(str(error).strip().splitlines()), type(error).__name__)
        missing = isinstance(error, FileNotFoundError)
        if not missing and "parquet" not in problem.lower():
            raise
        raise AggregateStoreError(
            f"{store_dir(output)}: a file of the daily aggregate store cannot be read "
            f"({problem}); delete {store_dir(output)} to rebuild the aggregates from the raw "
            "events"
        ) from error


@dataclass(frozen=True)
class StoreState:
    """state.json: per aggregated input file its fingerprint and event days."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_events_through: str | None = None
    panel: dict[str, Any] | None = None
    """The metric vocabulary the panel's tables were built under (None: not built)."""

    @classmethod
    def read(cls, output: str | Path) -> "StoreState":
        path = store_dir(output) / STATE_FILE
        if not path.exists():
            return cls()
        try:
            document = json.loads(path.read_text())
            if document.get("version") != STATE_VERSION:
                return cls()  # an older layout: rebuilt from the raw events
            files = document["files"]
            if not isinstance(files, dict):
                raise TypeError(f"files is {type(files).__name__}, not a mapping")
            state = cls(files, document.get("last_events_through"), document.get("panel"))
            state.days_overlap(date.min, date.max)  # every entry has the fields it needs
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            problem = f"{type(error).__name__}: {error}"
            raise AggregateStoreError(
                f"{path}: unreadable aggregate state ({problem}); delete {store_dir(output)} "
                "to rebuild the aggregates from the raw events"
            ) from error
        return state

    def write(self, output: str | Path) -> None:
        document = {
            "version": STATE_VERSION,
            "files": self.files,
            "last_events_through": self.last_events_through,
            "panel": self.panel,
        }
        _atomic_write_text(store_dir(output) / STATE_FILE, json.dumps(document, indent=1))

    def days_overlap(self, first: date, last: date, table: str | None = None) -> list[str]:
        """Aggregated files with an event day between first and last (inclusive); with a
        `table`, only those whose rows of it are known to be some."""
        return sorted(
            path
            for path, entry in self.files.items()
            if entry["first_day"] is not None
            and date.fromisoformat(entry["first_day"]) <= last
            and date.fromisoformat(entry["last_day"]) >= first
            and (table is None or entry.get("rows", {}).get(table) != 0)
        )

    def event_columns(self) -> tuple[str, ...]:
        """The columns of the valid events of every aggregated file."""
        names = {name for entry in self.files.values() for name in entry.get("columns", [])}
        return tuple(sorted(names))


@dataclass(frozen=True)
class AggregatePlan:
    """What an incremental run must (re)read, and which aggregated files are gone."""

    read: list[str]
    dropped: list[str]
    unchanged: int
    fingerprints: dict[str, dict[str, int]] = field(default_factory=dict)
    """Of the files to read, taken before reading: a file changed after that is read again."""


def plan_refresh(
    files: list[str], state: StoreState, vocabulary: dict[str, Any] | None = None
) -> AggregatePlan:
    """New or changed input files are read; aggregated files no longer listed are dropped.
    With the metric `vocabulary` of a run that computes the panel (panel_vocabulary): every
    file when the panel's tables were built under another one (or not at all).

    When nothing changed, the newest file is read again (a run always validates something;
    its aggregates come out the same).
    """
    stale_panel = vocabulary is not None and state.panel != vocabulary
    changed = [
        path
        for path in files
        if stale_panel
        or path not in state.files
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


def table_schema(table: str) -> pl.Schema:
    """The schema of a daily table (DAILY_TABLES or PANEL_TABLES)."""
    return DAILY_TABLES[table][1] if table in DAILY_TABLES else PANEL_TABLES[table]


def scan_daily(
    output: str | Path, table: str, first: date, last: date, state: StoreState | None = None
) -> pl.LazyFrame:
    """A daily table's rows with first <= event_date <= last, reading only the files of the
    input files whose days overlap (and which hold rows of it)."""
    state = state or StoreState.read(output)
    paths = [table_file(output, table, p) for p in state.days_overlap(first, last, table)]
    schema = table_schema(table)
    if not paths:
        return pl.LazyFrame(schema=schema)
    return pl.scan_parquet(paths, schema=schema, glob=False).filter(
        pl.col(EVENT_DATE).is_between(pl.lit(first), pl.lit(last))
    )


def _last_events_of_all(output: str | Path, state: StoreState) -> pl.DataFrame:
    paths = [table_file(output, "event_counts", p) for p in state.files]
    if not paths:
        return pl.DataFrame(schema=CUSTOMER_LAST_EVENTS)
    counts = pl.scan_parquet(paths, schema=DAILY_EVENT_COUNTS, glob=False)
    return counts.group_by("customer_id").agg(pl.col("last_event_at").max()).collect()


def _latest_events_kept(
    output: str | Path, state: StoreState, kept: Path, new: list[pl.LazyFrame]
) -> pl.DataFrame:
    """The kept latest events brought up to date with the new files' counts; counted again
    from every file's counts when the kept ones cannot be read (a torn or foreign file)."""
    try:
        return latest_events(pl.scan_parquet(kept, glob=False), *new).collect()
    except (pl.exceptions.PolarsError, OSError):
        return _last_events_of_all(output, state)


def _shrank(old: pl.DataFrame, new: pl.DataFrame) -> bool:
    """True when a re-read file lost a customer's latest event (not a pure append)."""
    latest_old = old.group_by("customer_id").agg(pl.col("last_event_at").max())
    latest_new = new.group_by("customer_id").agg(pl.col("last_event_at").max().alias("_new"))
    lost = latest_old.join(latest_new, on="customer_id", how="left").filter(
        pl.col("_new").is_null() | (pl.col("_new") < pl.col("last_event_at"))
    )
    return lost.height > 0


def panel_tables(events: pl.LazyFrame, config: ScoringConfig) -> dict[str, pl.DataFrame]:
    """The metric panel's daily tables (PANEL_TABLES) of one input file's valid events."""
    # events from an event store may lack properties or carry them as text: type them
    events = typed_properties(events, only_mistyped=True)
    sessions = session_days(events, config).collect(engine="in-memory").lazy()
    built = {
        "customer_days": customer_days(events, sessions, config),
        "session_days": sessions,
        "page_days": page_days(events, sessions, config),
        "feature_days": feature_days(events, config),
        "purchase_days": purchase_days(events, config),
        "type_days": type_days(events, config),
        "attribute_days": attribute_days(events, config),
    }
    # one file's rows (a day's): small group-bys, faster in memory than streamed
    tables = pl.collect_all(list(built.values()), engine="in-memory")
    return dict(zip(built, tables, strict=True))


def _history_of(name: str, rows: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """A running history table (HISTORY_FILES) of its daily table's rows."""
    if name == "first_days.parquet":
        return first_days(rows)
    if name == "app_latest.parquet":
        return app_latest(rows, config.metric_settings)
    return attribute_history(rows)


def _merged_history(
    name: str, kept: pl.LazyFrame, rows: pl.LazyFrame, config: ScoringConfig
) -> pl.LazyFrame:
    """A kept running history table (HISTORY_FILES) with new daily rows merged in."""
    if name == "first_days.parquet":
        return merged_first_days(kept, rows)
    if name == "app_latest.parquet":
        return app_latest(pl.concat([kept, rows.select(list(APP_LATEST))]), config.metric_settings)
    days = kept.with_columns(pl.lit(None, dtype=pl.Date).alias(EVENT_DATE))
    return attribute_history(pl.concat([days.select(list(ATTRIBUTE_DAYS)), rows]))


def refresh_history(
    output: str | Path,
    state: StoreState,
    new_rows: dict[str, list[pl.DataFrame]],
    rebuild: bool,
    config: ScoringConfig,
) -> None:
    """Bring the running history tables (HISTORY_FILES) up to date: the kept tables merged
    with the new files' rows, or, with `rebuild`, every aggregated file's rows merged anew."""
    for name, table in HISTORY_FILES.items():
        target = store_dir(output) / name
        if rebuild or not target.exists():
            paths = [table_file(output, table, p) for p in state.files]
            rows = (
                pl.scan_parquet(paths, schema=PANEL_TABLES[table], glob=False)
                if paths
                else pl.LazyFrame(schema=PANEL_TABLES[table])
            )
            history = _history_of(name, rows, config)
        else:
            new = [r.lazy() for r in new_rows[table]]
            rows = pl.concat(new) if new else pl.LazyFrame(schema=PANEL_TABLES[table])
            history = _merged_history(name, pl.scan_parquet(target, glob=False), rows, config)
        _atomic_write_parquet(history.collect().sort("customer_id"), target)


@dataclass(frozen=True)
class AggregateReport:
    """What refreshing the store did (small: goes into logs and the manifest)."""

    files_read: int
    files_unchanged: int
    files_dropped: int
    rows_aggregated: int
    store_rows: int
    last_events_rebuilt: bool


def _event_count_rows(output: str | Path, path: str, entry: dict[str, Any]) -> int:
    """The rows of an aggregated file's event counts: as its state entry records them (read
    from the file for entries written before they did)."""
    rows = entry.get("rows", {}).get("event_counts")
    if rows is None:
        counts = pl.scan_parquet(table_file(output, "event_counts", path), glob=False)
        rows = counts.select(pl.len()).collect().item()
    return int(rows)


def refresh_aggregates(
    valid_path: str, plan: AggregatePlan, output: str | Path, config: ScoringConfig | None = None
) -> AggregateReport:
    """Replace the aggregates of the re-read files with those of their valid events, drop
    those of vanished files, and bring `last_events` up to date. With the run's `config`, the
    metric panel's daily tables and history tables too (under its panel_vocabulary)."""
    state = StoreState.read(output)
    valid = pl.scan_parquet(valid_path, glob=False)
    columns = valid.collect_schema().names()
    vocabulary = panel_vocabulary(config) if config is not None else None
    files = dict(state.files)
    rebuild_last = bool(plan.dropped) or (state.last_events_through is None and bool(files))
    # appended files only extend the history; a rewritten or vanished one may shorten it
    rebuild_history = (
        bool(plan.dropped)
        or state.panel != vocabulary
        or any(path in state.files for path in plan.read)
    )
    new_latest: list[pl.LazyFrame] = []
    new_history: dict[str, list[pl.DataFrame]] = {t: [] for t in set(HISTORY_FILES.values())}
    rows = 0
    for path in plan.read:
        of_file = valid.filter(pl.col(SOURCE_FILE) == path).collect().lazy()
        frames = {table: daily(of_file).collect() for table, (daily, _) in DAILY_TABLES.items()}
        if config is not None:
            frames |= panel_tables(of_file, config)
        frames = {
            table: frame.sort([c for c in (EVENT_DATE, "customer_id") if c in frame.columns])
            for table, frame in frames.items()
        }
        counts = frames["event_counts"]
        target = table_file(output, "event_counts", path)
        if target.exists() and not rebuild_last:
            rebuild_last = _shrank(pl.read_parquet(target, glob=False), counts)
        new_latest.append(counts.lazy())
        rows += counts.height
        for table, frame in frames.items():
            _atomic_write_parquet(frame, table_file(output, table, path))
        for table in new_history:
            if table in frames:
                new_history[table].append(frames[table])
        days = counts[EVENT_DATE]
        files[path] = {
            "key": file_key(path),
            "fingerprint": plan.fingerprints.get(path) or asdict(Fingerprint.of(path)),
            "first_day": days.min().isoformat() if counts.height else None,
            "last_day": days.max().isoformat() if counts.height else None,
            "columns": columns,
            "rows": {table: frame.height for table, frame in frames.items()},
        }
    for path in plan.dropped:
        files.pop(path)
        for table in (*DAILY_TABLES, *PANEL_TABLES):
            table_file(output, table, path).unlink(missing_ok=True)
    state = StoreState(files, state.last_events_through, state.panel)
    last_path = store_dir(output) / LAST_EVENTS_FILE
    if rebuild_last or not last_path.exists():
        latest = _last_events_of_all(output, state)
    else:
        latest = _latest_events_kept(output, state, last_path, new_latest)
    _atomic_write_parquet(latest.sort("customer_id"), last_path)
    if config is not None:
        refresh_history(output, state, new_history, rebuild_history, config)
    last_days = [e["last_day"] for e in files.values() if e["last_day"] is not None]
    StoreState(files, max(last_days, default=None), vocabulary).write(output)
    store_rows = sum(_event_count_rows(output, path, entry) for path, entry in files.items())
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
        return pl.scan_parquet(store_dir(output) / LAST_EVENTS_FILE, glob=False)
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


def history_as_of(
    output: str | Path, name: str, run_date: date, state: StoreState, config: ScoringConfig
) -> pl.LazyFrame:
    """A running history table (HISTORY_FILES) as of the run date: the kept one when the
    store holds nothing later (a daily run), else merged from the daily rows up to the run
    date (a rerun of an older date)."""
    through = state.last_events_through
    if through is not None and date.fromisoformat(through) <= run_date:
        return pl.scan_parquet(store_dir(output) / name, glob=False)
    rows = scan_daily(output, HISTORY_FILES[name], date.min, run_date, state)
    return _history_of(name, rows, config)


def panel_days_from_store(output: str | Path, config: ScoringConfig, run_date: date) -> PanelDays:
    """The daily tables the run's metric panel reads (panel_days.PanelDays), each for the days
    it needs (panel_days.day_ranges); the store's panel tables must be of the configuration's
    vocabulary (refresh_aggregates with it)."""
    state = StoreState.read(output)
    if state.panel != panel_vocabulary(config):
        raise ValueError(
            f"{store_dir(output)}: the metric panel's daily tables are missing or of another "
            "metric vocabulary; refresh the store with this configuration first"
        )
    ranges = day_ranges(config, run_date)

    def days(table: str, period: str) -> pl.LazyFrame:
        return scan_daily(output, table, *ranges[period], state)

    sessions = days("session_days", "window")
    # only the rows of sessions with more than one row are read whole (their keys first)
    repeated = repeated_session_keys(sessions.select("session_key")).collect()
    return PanelDays(
        event_counts=days("event_counts", "window"),
        previous_counts=days("event_counts", "previous"),
        customers=days("customer_days", "window"),
        sessions=sessions.join(repeated.lazy(), on="session_key", how="semi"),
        pages=days("page_days", "window"),
        features=days("feature_days", "window"),
        purchases=days("purchase_days", "lookback"),
        first_days=history_as_of(output, "first_days.parquet", run_date, state, config),
        app_latest=history_as_of(output, "app_latest.parquet", run_date, state, config),
        last_events=last_events_at(output, run_date, state),
        attributes=history_as_of(output, "attribute_history.parquet", run_date, state, config),
        event_columns=state.event_columns(),
    )


@task(name="plan-aggregates", cache_policy=NO_CACHE, persist_result=False)
def plan_aggregates(
    files: list[str], output: str, config: ScoringConfig | None = None
) -> AggregatePlan:
    """Which input files an incremental run must read (new or changed ones; all of them when
    the run's metric panel needs its tables rebuilt, see plan_refresh)."""
    vocabulary = panel_vocabulary(config) if config is not None else None
    return plan_refresh(files, StoreState.read(output), vocabulary)


@task(name="refresh-aggregates", cache_policy=NO_CACHE, persist_result=False)
def refresh_daily_aggregates(
    valid_path: str, plan: AggregatePlan, output: str, config: ScoringConfig | None = None
) -> AggregateReport:
    """Update the daily aggregate store from the run's valid events (with `config`: the
    metric panel's tables too)."""
    with store_read(output):
        return refresh_aggregates(valid_path, plan, output, config)
