"""Extract: read event files (CSV, NDJSON, Parquet; optionally gzipped) into one raw frame.

Every input column is kept. Text inputs are read as text (nothing is coerced or lost); the
required id columns become text, `occurred_at` becomes a UTC timestamp, and each row records
the file and 1-based row it came from so quarantine and errors can point at it.
"""

import csv
import glob
import gzip
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.events import ROW_ID, blank_as_null, timestamp_from_text, timestamp_from_typed
from scoring.schema import EVENT_COLUMN_NAMES, OPTIONAL_EVENT_COLUMNS, SOURCE_FILE, SOURCE_ROW
from tasks.publish.write import write_staged
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


def _utf8_problem(file: EventFile, data: bytes) -> EventInputError | None:
    """An error naming the line of the first byte that is not UTF-8 (None if all is)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return EventInputError(
            f"{file.path}: line {line} is not valid UTF-8 (byte 0x{data[error.start]:02x} at "
            f"offset {error.start}); re-encode the file as UTF-8"
        )
    return None


def _ndjson_problem(file: EventFile, data: bytes) -> str:
    """Which line of an NDJSON file is not one JSON object (found only once reading failed)."""
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_constant=_reject_constant)
        except ValueError as error:
            return f"line {number} is not valid JSON ({error}): {line[:80]!r}"
        if not isinstance(value, dict):
            return f"line {number} is a JSON {type(value).__name__}, not an object: {line[:80]!r}"
    return "not one JSON object per line"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _csv_problem(data: bytes) -> str:
    """Which record of a CSV file has more fields than the header (found once reading failed)."""
    records = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header = next(records, [])
    for number, record in enumerate(records, start=1):
        if len(record) > len(header):
            return (
                f"record {number} (line {records.line_num}) has {len(record)} fields, "
                f"the header has {len(header)}"
            )
    return "check the quoting (an unterminated quote swallows the rest of the file)"


def _reject_nested_ids(file: EventFile, data: bytes, frame: pl.DataFrame) -> None:
    """Required fields must be scalars: a JSON object or array there is a file error."""
    for column in (c for c in EVENT_COLUMN_NAMES if c in frame.columns):
        values = pl.col(column)
        if frame.schema[column].is_nested():
            suspects = frame.with_row_index().filter(values.is_not_null())["index"]
        elif frame.schema[column] == pl.String:  # mixed scalars and objects arrive as JSON text
            suspects = frame.with_row_index().filter(values.str.contains(r"^\s*[\[{]"))["index"]
        else:
            continue
        if suspects.is_empty():
            continue
        records = [line for line in data.decode("utf-8").splitlines() if line.strip()]
        for index in suspects.to_list():
            if isinstance(json.loads(records[index]).get(column), dict | list):
                raise EventInputError(
                    f"{file.path}: record {index + 1}: field {column} holds a JSON object or "
                    f"array; {column} must be a string or a number"
                )


def _read_ndjson(file: EventFile, data: bytes) -> pl.DataFrame:
    if not data.strip():
        return pl.DataFrame()
    frame = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    _reject_nested_ids(file, data, frame)
    nested = [c for c, dtype in frame.schema.items() if dtype.is_nested()]
    if nested:  # other nested properties are kept as their JSON text
        frame = pl.read_ndjson(io.BytesIO(data), schema={c: pl.String for c in frame.columns})
    return frame


def _read_text_table(file: EventFile) -> pl.DataFrame:
    data = _source_bytes(file)
    if problem := _utf8_problem(file, data):
        raise problem
    try:
        if file.format == "csv":
            frame = pl.read_csv(
                io.BytesIO(data), infer_schema=False, encoding="utf8-lossy", raise_if_empty=False
            )
        else:
            frame = _read_ndjson(file, data)
    except pl.exceptions.PolarsError as error:
        where = _csv_problem(data) if file.format == "csv" else _ndjson_problem(file, data)
        raise EventInputError(
            f"{file.path}: cannot be read as {file.format}: {where}; ({str(error).splitlines()[0]})"
        ) from error
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
    write_staged(raw, target)
    return str(target)


def read_untyped_file(file: EventFile) -> pl.DataFrame:
    """One file's columns as stored (text tables as text), before renaming and typing."""
    return _read_parquet(file) if file.format == "parquet" else _read_text_table(file)


def typed_event_frame(frame: pl.DataFrame, origin: str) -> pl.DataFrame:
    """Any source's canonical columns as a raw event frame, provenance naming `origin`."""
    return _typed(frame, EventFile(path=origin, format="table", compression=None))
