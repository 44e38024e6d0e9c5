"""Extract: read event files (CSV, NDJSON, Parquet; optionally gzipped) into one raw frame.

Every input column is kept. Text inputs are read as text (nothing is coerced or lost); the
required id columns become text, `occurred_at` becomes a UTC timestamp, and each row records
the file and 1-based row it came from so quarantine and errors can point at it.
"""

import glob
import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.events import ROW_ID, blank_as_null, timestamp_from_text, timestamp_from_typed
from scoring.schema import EVENT_COLUMN_NAMES, OPTIONAL_EVENT_COLUMNS, SOURCE_FILE, SOURCE_ROW
from tasks.retry import BACKOFF_SECONDS, retry_transient

OCCURRED_AT_TEXT = "_occurred_at_text"
"""The original text of occurred_at (null for typed Parquet columns), kept for error reasons."""

_FORMATS = {
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "ndjson",
    ".parquet": "parquet",
    ".pq": "parquet",
}


class EventInputError(ValueError):
    """An input that cannot be read as events at all (not a bad row: a bad file)."""


@dataclass(frozen=True)
class EventFile:
    """One input file and how to read it."""

    path: str
    format: str
    compression: str | None

    @classmethod
    def of(cls, path: str) -> "EventFile":
        """Format chosen by extension: .csv, .ndjson/.jsonl/.json, .parquet (optionally .gz)."""
        name = path.lower()
        compression = None
        if name.endswith(".gz"):
            compression, name = "gzip", name[: -len(".gz")]
        suffix = Path(name).suffix
        if suffix not in _FORMATS:
            raise EventInputError(
                f"{path}: unsupported file type {suffix or '(none)'!r}; "
                f"use one of {', '.join(sorted(_FORMATS))} (optionally .gz)"
            )
        return cls(path=path, format=_FORMATS[suffix], compression=compression)


def event_files(pattern: str) -> list[EventFile]:
    """The files matching a path, a directory or a glob, sorted by name."""
    path = Path(pattern)
    if path.is_dir():
        matches = sorted(str(p) for p in path.iterdir() if p.is_file() and p.suffix != ".md")
    elif path.is_file():
        matches = [str(path)]
    else:
        matches = sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    if not matches:
        raise EventInputError(f"no event files match {pattern!r}: check the path or glob")
    return [EventFile.of(p) for p in matches]


def _source_bytes(file: EventFile) -> bytes:
    try:
        with open(file.path, "rb") as stream:
            data = stream.read()
        return gzip.decompress(data) if file.compression == "gzip" else data
    except (OSError, EOFError, zlib.error) as error:
        raise EventInputError(f"{file.path}: cannot be read: {error}") from error


def _read_text_table(file: EventFile) -> pl.DataFrame:
    data = _source_bytes(file)
    try:
        if file.format == "csv":
            frame = pl.read_csv(
                io.BytesIO(data), infer_schema=False, encoding="utf8-lossy", raise_if_empty=False
            )
        else:
            frame = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    except pl.exceptions.PolarsError as error:
        raise EventInputError(f"{file.path}: cannot be read as {file.format}: {error}") from error
    return frame.with_columns(pl.all().cast(pl.String))


def _read_parquet(file: EventFile) -> pl.DataFrame:
    try:
        return pl.read_parquet(file.path)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise EventInputError(f"{file.path}: cannot be read as parquet: {error}") from error


def _typed(frame: pl.DataFrame, file: EventFile) -> pl.DataFrame:
    missing = [c for c in EVENT_COLUMN_NAMES if c not in frame.columns]
    if missing and frame.height == 0 and not frame.columns:
        frame = pl.DataFrame(schema={c: pl.String for c in EVENT_COLUMN_NAMES})
        missing = []
    if missing:
        raise EventInputError(
            f"{file.path}: missing required column(s) {', '.join(missing)} "
            f"(found: {', '.join(frame.columns) or 'none'}); "
            "map the source's columns onto event_id, customer_id, event_type, occurred_at"
        )
    occurred = frame.schema["occurred_at"]
    if occurred == pl.String:
        occurred_at = timestamp_from_text(pl.col("occurred_at"))
        text = pl.col("occurred_at")
    else:
        try:
            occurred_at = timestamp_from_typed(pl.col("occurred_at"), occurred)
        except TypeError as error:
            raise EventInputError(f"{file.path}: column occurred_at: {error}") from error
        text = pl.lit(None, dtype=pl.String)
    ids = [c for c in ("event_id", "customer_id", "event_type")]
    return frame.with_columns(
        *[blank_as_null(c) for c in ids if frame.schema[c] == pl.String],
        *[pl.col(c).cast(pl.String) for c in ids if frame.schema[c] != pl.String],
        text.alias(OCCURRED_AT_TEXT),
    ).with_columns(
        occurred_at,
        pl.lit(file.path).alias(SOURCE_FILE),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(SOURCE_ROW),
    )


def _type_changes(frame: pl.DataFrame, file: EventFile) -> None:
    """Reject typed columns whose type contradicts the contract (schema evolution: new columns
    are ignored, missing optional ones are null, a changed type is an error)."""
    expected = {c: pl.String() for c in ("event_id", "customer_id", "event_type")}
    expected |= {c.name: c.dtype for c in OPTIONAL_EVENT_COLUMNS}
    for name, contract in expected.items():
        actual = frame.schema.get(name)
        if actual is None or actual == pl.Null:
            continue
        fits = actual.is_numeric() if contract.is_numeric() else actual == pl.String
        fits = fits or (contract == pl.String and actual.is_integer())  # integer ids are ids
        if not fits:
            raise EventInputError(
                f"{file.path}: column {name} is {actual}, the event contract says {contract}: "
                "the source's type changed; cast it back at the source or map another column"
            )


def read_event_file(file: EventFile) -> pl.DataFrame:
    """One file as a raw event frame (required columns typed, extras kept as they are)."""
    if file.format != "parquet":  # text formats are read as text: nothing typed to contradict
        return _typed(_read_text_table(file), file)
    frame = _read_parquet(file)
    _type_changes(frame, file)
    return _typed(frame, file)


def read_events(files: list[EventFile]) -> pl.DataFrame:
    """All files as one raw event frame, in file order, with a global `_row` id."""
    frames = [read_event_file(f) for f in files]
    return pl.concat(frames, how="diagonal_relaxed").with_row_index(ROW_ID)


@task(
    name="find-event-files",
    retries=3,
    retry_delay_seconds=BACKOFF_SECONDS,
    retry_condition_fn=retry_transient,
)
def find_event_files(events: str) -> list[str]:
    """The input files of a run, resolved once so the manifest can list them."""
    return [f.path for f in event_files(events)]


@task(
    name="extract-events",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=3,
    retry_delay_seconds=BACKOFF_SECONDS,
    retry_condition_fn=retry_transient,
)
def extract_events(paths: list[str], staging: str) -> str:
    """Read the run's input files into one raw event frame, staged as Parquet; returns its path."""
    raw = read_events([EventFile.of(p) for p in paths])
    target = Path(staging) / "raw_events.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    raw.write_parquet(target)
    return str(target)


def read_untyped_file(file: EventFile) -> pl.DataFrame:
    """One file's columns as stored (text tables as text), before renaming and typing."""
    return _read_parquet(file) if file.format == "parquet" else _read_text_table(file)


def typed_event_frame(frame: pl.DataFrame, origin: str) -> pl.DataFrame:
    """Any source's canonical columns as a raw event frame, provenance naming `origin`."""
    return _typed(frame, EventFile(path=origin, format="table", compression=None))
