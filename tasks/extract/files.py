"""Extract: read event files (CSV, NDJSON, Parquet; optionally gzipped) into one raw frame.

Every input column is kept. Text inputs are read as text, as written: nothing is coerced or
lost (an NDJSON number keeps its source token, `1.50` stays `1.50`, a 19-digit id stays whole).
The required id columns become text, `occurred_at` becomes a UTC timestamp, and each row records
the file and 1-based row it came from so quarantine and errors can point at it.

Text files are read in blocks cut at record boundaries and decompressed on the fly, so a file is
never held whole (twice) in memory: a compressed file may expand to at most
`validation.max_uncompressed_bytes`, and no line may be longer than one block.
"""

import csv
import fnmatch
import glob
import gzip
import io
import itertools
import json
import operator
import os
import re
import zlib
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from polars.exceptions import PanicException

from scoring.config import MAX_UNCOMPRESSED_BYTES
from scoring.events import ROW_ID, timestamp_from_text, timestamp_from_typed
from scoring.schema import (
    EVENT_COLUMN_NAMES,
    OPTIONAL_EVENT_COLUMNS,
    QUARANTINE_FIXED,
    SOURCE_FILE,
    SOURCE_ROW,
)

OCCURRED_AT_TEXT = "_occurred_at_text"
"""The original text of occurred_at (null for typed Parquet columns), kept for error reasons."""

RESERVED_COLUMNS = (ROW_ID, OCCURRED_AT_TEXT, *(c.name for c in QUARANTINE_FIXED))
"""Names the job gives columns of its own next to the input's (row ids, provenance, the
quarantine's reasons): an input column of one of them would be overwritten or collide."""

BLOCK_BYTES = 64 * 1024 * 1024
"""Text files are read in blocks of this many bytes; a line may not be longer."""

_FORMATS = {
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "ndjson",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_BOM = b"\xef\xbb\xbf"
_JSON_TOKENS = msgspec.json.Decoder(dict[str, msgspec.Raw])
"""One JSON object, its values left as their JSON text (msgspec.Raw): numbers keep their token."""
_JSON_SCALARS = msgspec.json.Decoder(dict[str, Any], float_hook=str)
"""One JSON object of scalars: a number with a fraction or exponent as its token, an integer
as a Python int (whose text is its token, but for -0)."""
_NEGATIVE_ZERO = re.compile(rb"-0[\s,}]")
"""The integer -0 (or a string that holds the same): NDJSON read as tokens, not as scalars."""
_DECODE_BYTES = 8 * 1024 * 1024

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


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
    """The files matching a path, a directory or a glob, sorted by name; each real file once
    (symbolic links to a file already matched are left out, looping directory links are not
    followed)."""
    if not pattern.strip():  # Path("") is the working directory: an unset variable read it
        raise EventInputError(
            f"no event files: the events path is empty ({pattern!r}); give a file, directory "
            "or glob"
        )
    path = Path(pattern)
    if path.is_dir():
        matches = sorted(str(p) for p in path.iterdir() if p.is_file() and p.suffix != ".md")
    elif path.is_file():
        matches = [str(path)]
    else:
        matches = sorted(glob_files(pattern))
    if not matches:
        raise EventInputError(f"no event files match {pattern!r}: check the path or glob")
    real = {}
    for match in matches:
        real.setdefault(os.path.realpath(match), match)
    return [EventFile.of(p) for p in real.values()]


def glob_files(pattern: str) -> list[str]:
    """The files matching a glob (`**`: any number of directories, hidden ones excepted).

    Symbolic links to directories are followed, but never twice into the same real
    directory: a link looping back (`d/up -> ..`) is not walked again and again.
    """
    if "**" not in pattern:
        return [p for p in glob.glob(pattern) if os.path.isfile(p)]
    segments = pattern.split("/")
    literal = list(itertools.takewhile(lambda s: not glob.has_magic(s), segments))
    base = "/".join(literal) or "."
    visited = {os.path.realpath(base)}
    found = []
    for directory, subdirectories, files in os.walk(base, followlinks=True):
        real = [os.path.realpath(os.path.join(directory, d)) for d in subdirectories]
        subdirectories[:] = [
            d for d, r in zip(subdirectories, real, strict=True) if r not in visited
        ]
        visited.update(real)
        relative = Path(os.path.relpath(directory, base)).parts if directory != base else ()
        found += [
            os.path.join(directory, name)
            for name in files
            if _glob_match([*relative, name], segments[len(literal) :])
        ]
    return found


def _glob_match(parts: list[str], segments: list[str]) -> bool:
    """Whether path components match glob segments, as `glob.glob(recursive=True)` would."""
    if not segments:
        return not parts
    if segments[0] == "**":
        return any(
            _glob_match(parts[skipped:], segments[1:])
            for skipped in range(len(parts) + 1)
            if not any(p.startswith(".") for p in parts[:skipped])
        )
    if not parts or (parts[0].startswith(".") and not segments[0].startswith(".")):
        return False
    return fnmatch.fnmatchcase(parts[0], segments[0]) and _glob_match(parts[1:], segments[1:])


@dataclass(frozen=True)
class _Piece:
    """Whole records of a text file: their bytes, and where they start in the file."""

    data: bytes
    line: int  # the 1-based line of the file the piece starts on
    offset: int  # its byte offset in the (decompressed) file


def _blocks(file: EventFile, limit: int) -> Iterator[bytes]:
    """The file's bytes, decompressed on the fly, in blocks; at most `limit` bytes once
    decompressed (a compression bomb stops there, never read whole)."""
    opener: Callable[..., io.BufferedIOBase] = gzip.open if file.compression else open
    try:
        with opener(file.path, "rb") as stream:
            total = 0
            while block := stream.read(BLOCK_BYTES):
                total += len(block)
                if file.compression and total > limit:
                    raise EventInputError(
                        f"{file.path}: expands to more than {limit:,} bytes once decompressed; "
                        "raise validation.max_uncompressed_bytes if the file is genuine"
                    )
                yield block
    except (OSError, EOFError, zlib.error) as error:
        raise EventInputError(f"{file.path}: cannot be read: {error}") from error


def _pieces(file: EventFile, limit: int, record_end: Callable[[bytes], int]) -> Iterator[_Piece]:
    """The file in pieces of whole records; `record_end(buffer)` is where the last whole record
    of `buffer` ends (0: none does)."""
    carry, line, offset = b"", 1, 0
    for block in _blocks(file, limit):
        buffer = carry + block if carry else block
        end = record_end(buffer)
        if end == 0:
            if len(buffer) > BLOCK_BYTES:
                raise EventInputError(
                    f"{file.path}: line {line}: no record ends within {BLOCK_BYTES:,} bytes (a "
                    "line that long, or an unterminated quote); split the line or fix the quoting"
                )
            carry = buffer
            continue
        piece = _Piece(buffer[:end], line, offset)
        yield piece
        carry, line, offset = buffer[end:], line + piece.data.count(b"\n"), offset + end
    if carry:
        yield _Piece(carry, line, offset)


def _utf8_problem(file: EventFile, piece: _Piece) -> EventInputError | None:
    """An error naming the line of the first byte that is not UTF-8 (None if all is)."""
    try:
        piece.data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = piece.line + piece.data.count(b"\n", 0, error.start)
        return EventInputError(
            f"{file.path}: line {line} is not valid UTF-8 (byte 0x{piece.data[error.start]:02x} "
            f"at offset {piece.offset + error.start}); re-encode the file as UTF-8"
        )
    return None


def _csv_record_end(buffer: bytes) -> int:
    """After the last line end of `buffer` that is outside quotes (an even number of `"` before
    it: RFC 4180 doubles a quote inside a quoted field); 0 if none is."""
    position, quotes = len(buffer), buffer.count(b'"')
    while (newline := buffer.rfind(b"\n", 0, position)) >= 0:
        quotes -= buffer.count(b'"', newline, position)
        if quotes % 2 == 0:
            return newline + 1
        position = newline
    return 0


def _csv_problem(piece: _Piece, width: int, records_before: int, delimiter: str = ",") -> str:
    """Which record of a CSV piece has more fields than the header (found once reading failed)."""
    text = piece.data.removeprefix(_BOM).decode("utf-8")
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    if records_before == 0:
        width = len(next(records, []))
    for number, record in enumerate(records, start=records_before + 1):
        if len(record) > width:
            return (
                f"record {number} (line {piece.line + records.line_num - 1}) has {len(record)} "
                f"fields, the header has {width}"
            )
    return "check the quoting (an unterminated quote swallows the rest of the file)"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _reject_header(file: EventFile, piece: _Piece) -> None:
    """A header in a wide encoding without a byte-order mark (valid UTF-8 with a NUL beside
    every letter), or line ends Polars does not see as such: one header holding every
    record."""
    header = piece.data.split(b"\n", 1)[0]
    if header.count(b"\x00") * 4 >= len(header) > 0 and _is_utf8(header):  # else: named as such
        raise EventInputError(
            f"{file.path}: the header's names are interleaved with NUL bytes: the file looks "
            "like UTF-16 or UTF-32 without a byte-order mark; re-encode the file as UTF-8"
        )
    if b"\r" in piece.data and b"\n" not in piece.data:
        raise EventInputError(
            f"{file.path}: lines end in a carriage return alone (classic Mac OS); "
            "convert the line ends to \\n or \\r\\n"
        )


def reject_repeated_names(file: EventFile, names: list[str]) -> None:
    """A header naming a column twice (Polars renames the second `<name>_duplicated_0`)."""
    for name in names:
        original, marker, number = name.rpartition("_duplicated_")
        if marker and number.isdigit() and original in names:
            raise EventInputError(
                f"{file.path}: the header names column {original!r} more than once; "
                "rename or drop the copies"
            )


DELIMITERS = (",", ";", "\t", "|")
"""Field delimiters a CSV file may use (spreadsheets write `;` where `,` is the decimal mark)."""
HEAD_BYTES = 64 * 1024
"""Bytes read to find a file's header (pre-flight checks, dialect detection)."""


def csv_delimiter(header: str, wanted: tuple[str, ...] = EVENT_COLUMN_NAMES) -> str:
    """The delimiter of a CSV header line: of DELIMITERS, the one whose fields name the most
    `wanted` columns, then the one giving the most fields; a comma when none splits it."""

    def fit(delimiter: str) -> tuple[int, int]:
        fields = next(csv.reader([header], delimiter=delimiter), [])
        return sum(name.strip() in wanted for name in fields), len(fields)

    return max(DELIMITERS, key=lambda delimiter: (fit(delimiter), delimiter == ","))


def _head(file: EventFile) -> bytes:
    """The first HEAD_BYTES of the file (decompressed), BOM removed."""
    opener: Callable[..., io.BufferedIOBase] = gzip.open if file.compression else open
    try:
        with opener(file.path, "rb") as stream:
            return stream.read(HEAD_BYTES).removeprefix(_BOM)
    except (OSError, EOFError, zlib.error) as error:
        raise EventInputError(f"{file.path}: cannot be read: {error}") from error


def _header_line(file: EventFile, head: bytes) -> str:
    """The first line of a text file (CR-only line ends refused, non-UTF-8 named)."""
    _reject_header(file, _Piece(head, 1, 0))
    line = head.split(b"\n", 1)[0].removesuffix(b"\r")
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EventInputError(
            f"{file.path}: line 1 is not valid UTF-8 (byte 0x{line[error.start]:02x} at offset "
            f"{error.start}); re-encode the file as UTF-8"
        ) from error


def delimiter_of(file: EventFile, wanted: tuple[str, ...] = EVENT_COLUMN_NAMES) -> str:
    """The delimiter of a CSV file, from its header line (`csv_delimiter`)."""
    head = _head(file)
    return csv_delimiter(_header_line(file, head), wanted) if head.strip() else ","


def header_columns(
    file: EventFile, wanted: tuple[str, ...] = EVENT_COLUMN_NAMES
) -> list[str] | None:
    """The column names a file declares up front (a CSV header, a Parquet schema), read
    without reading the rows; None for NDJSON (each line names its own keys), an empty file
    and compressed Parquet. Errors name the file and what to fix, as reading it would."""
    if file.format == "parquet":
        if file.compression:
            return None
        try:
            return list(pq.read_schema(file.path).names)
        except (pa.ArrowException, OSError) as error:
            raise EventInputError(
                f"{file.path}: cannot be read as parquet: {error_text(error)}"
            ) from error
    head = _head(file)
    if file.format != "csv" or not head.strip():
        return None
    header = _header_line(file, head)
    return next(csv.reader([header], delimiter=csv_delimiter(header, wanted)), [])


def missing_columns_message(path: str, found: list[str], wanted: tuple[str, ...]) -> str | None:
    """What to fix when a file's columns lack some `wanted` ones (None: none missing)."""
    missing = [c for c in wanted if c not in found]
    if not missing:
        return None
    hint = (
        f"rename the header's columns to {', '.join(wanted)}, or map the file's own names "
        "in a `sources` entry's `columns:` of the configuration and run it with --source"
    )
    if len(found) == 1 and len(wanted) > 1:
        hint = (
            "the header is a single column: separate the names with one of , ; tab or | "
            "(the same delimiter as the rows)"
        )
    return (
        f"{path}: missing required column(s) {', '.join(missing)} "
        f"(found: {', '.join(found) or 'none'}); {hint}"
    )


def nul_columns_message(path: str, found: list[str]) -> str | None:
    """The error naming the columns of `found` whose name holds a NUL character, if any: Arrow
    hands names over as C strings, and writing one (the quarantine keeps every input column)
    panicked, ending the process."""
    if named := [name for name in found if "\x00" in name]:
        return (
            f"{path}: column name(s) {', '.join(map(repr, named))} hold a NUL character "
            "(\\x00), which no output can store; rename or drop them"
        )
    return None


def reserved_columns_message(path: str, found: list[str]) -> str | None:
    """The error naming the columns of `found` that have a name in RESERVED_COLUMNS, or one
    holding a NUL character (nul_columns_message), if any."""
    if message := nul_columns_message(path, found):
        return message
    if reserved := [name for name in found if name in RESERVED_COLUMNS]:
        return (
            f"{path}: column(s) {', '.join(reserved)} have a name the job gives its own columns "
            f"({', '.join(RESERVED_COLUMNS)}); rename or drop them"
        )
    return None


def _read_csv(file: EventFile, limit: int) -> pl.DataFrame:
    """A CSV file with every field as text, read piece by piece (the header from the first),
    its delimiter found from the header (`csv_delimiter`), a UTF-8 BOM dropped."""
    frames: list[pl.DataFrame] = []
    names: list[str] = []
    delimiter = ","
    for piece in _pieces(file, limit, _csv_record_end):
        data = piece.data.removeprefix(_BOM) if piece.offset == 0 else piece.data
        if problem := _utf8_problem(file, piece):
            raise problem
        records_before = sum(f.height for f in frames)
        try:
            if not frames:
                _reject_header(file, piece)
                delimiter = csv_delimiter(_header_line(file, data))
                frame = pl.read_csv(
                    data, separator=delimiter, infer_schema=False, raise_if_empty=False
                )
                names = frame.columns
                reject_repeated_names(file, names)
            else:
                schema = dict.fromkeys(names, pl.String)
                frame = pl.read_csv(data, separator=delimiter, has_header=False, schema=schema)
        except pl.exceptions.PolarsError as error:
            where = _csv_problem(piece, len(names), records_before, delimiter)
            raise EventInputError(
                f"{file.path}: cannot be read as csv: {where}; ({str(error).splitlines()[0]})"
            ) from error
        frames.append(frame)
    return pl.concat(frames) if frames else pl.DataFrame()


def _json_record_end(buffer: bytes, start: int = 0, stop: int | None = None) -> int:
    """After the last line end of `buffer[start:stop]` (JSON text holds none inside a value);
    0 if none."""
    return max(buffer.rfind(b"\n", start, stop), buffer.rfind(b"\r", start, stop)) + 1


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _ndjson_problem(data: bytes, first_line: int) -> str:
    """Which line of NDJSON is not one JSON object (found only once reading failed)."""
    for number, line in enumerate(data.splitlines(), start=first_line):
        if not line.strip():
            continue
        shown = line[:80].decode("utf-8", errors="replace")
        try:
            value = json.loads(line, parse_constant=_reject_constant)
            if isinstance(value, dict):
                _JSON_TOKENS.decode(line)
        except (ValueError, msgspec.MsgspecError) as error:
            return f"line {number} is not valid JSON ({error}): {shown!r}"
        except RecursionError:
            return f"line {number} nests objects or arrays too deeply: {shown!r}"
        if not isinstance(value, dict):
            return f"line {number} is a JSON {type(value).__name__}, not an object: {shown!r}"
    return "not one JSON object per line"


def _token_texts(objects: list[dict[str, msgspec.Raw]]) -> pl.DataFrame:
    """Every key of the objects as a column (in order of first appearance) of JSON tokens."""
    names = dict.fromkeys(itertools.chain.from_iterable(objects))
    return pl.DataFrame(
        {
            name: [None if (raw := o.get(name)) is None else bytes(raw) for o in objects]
            for name in names
        },
        schema=dict.fromkeys(names, pl.Binary),
    ).cast(pl.String)


def _json_text(token: pl.Expr) -> pl.Expr:
    """A JSON value as text: a string decoded, anything else as written (a number keeps its
    token, `true`, an object or array its JSON text); `null` is null."""
    quoted = token.str.starts_with('"')
    escaped = quoted & token.str.contains("\\", literal=True)
    return (
        pl.when(token == "null")
        .then(None)
        .when(escaped)
        .then(pl.when(escaped).then(token).str.json_decode(pl.String))
        .when(quoted)
        .then(token.str.strip_prefix('"').str.strip_suffix('"'))
        .otherwise(token)
    )


def _reject_nested_ids(file: EventFile, tokens: pl.DataFrame, records_before: int) -> None:
    """Required fields must be scalars: a JSON object or array there is a file error."""
    for column in (c for c in EVENT_COLUMN_NAMES if c in tokens.columns):
        nested = tokens.get_column(column).str.contains(r"^[\[{]").fill_null(False)
        if nested.any():
            record = records_before + nested.arg_true()[0] + 1
            raise EventInputError(
                f"{file.path}: record {record}: field {column} holds a JSON object or array; "
                f"{column} must be a string or a number"
            )


def _scalar_texts(objects: list[dict[str, Any]]) -> pl.DataFrame | None:
    """Objects of scalars decoded by `_JSON_SCALARS` as text columns, what `_token_texts` and
    `_json_text` give for them in a third of the time; None if a value does not fit (an
    integer beyond 128 bits)."""
    columns = {
        name: _values(objects, name)
        for name in dict.fromkeys(itertools.chain.from_iterable(objects))
    }
    frame = pl.DataFrame(
        {name: pl.Series(name, values, pl.String, strict=False) for name, values in columns.items()}
    )
    fits = all(
        frame[name].null_count() in (0, values.count(None)) for name, values in columns.items()
    )
    return frame if fits else None


def _values(objects: list[dict[str, Any]], name: str) -> list[Any]:
    """The values of one key (None where absent)."""
    try:
        return list(map(operator.itemgetter(name), objects))  # twice as fast, if none lacks it
    except KeyError:
        return [o.get(name) for o in objects]


def _ndjson_frame(file: EventFile, data: bytes, records_before: int) -> pl.DataFrame:
    """NDJSON lines as text columns, every value as its JSON text (`_json_text`)."""
    objects = _JSON_SCALARS.decode_lines(data)
    # one brace per object and no bracket: no object or array value (strings may hold some)
    scalars = data.count(b"{") == len(objects) and b"[" not in data
    if scalars and _NEGATIVE_ZERO.search(data) is None:
        frame = _scalar_texts(objects)
        if frame is not None:
            return frame
    tokens = _token_texts(_JSON_TOKENS.decode_lines(data))
    _reject_nested_ids(file, tokens, records_before)
    return tokens.select(_json_text(pl.col(c)).alias(c) for c in tokens.columns)


def _read_ndjson(file: EventFile, limit: int) -> pl.DataFrame:
    """An NDJSON file with every value as its JSON text, read piece by piece."""
    frames: list[pl.DataFrame] = []
    for piece in _pieces(file, limit, _json_record_end):
        if problem := _utf8_problem(file, piece):
            raise problem
        data = piece.data.removeprefix(_BOM) if piece.offset == 0 else piece.data
        start = 0
        while start < len(data):  # decoded a few MiB at a time: Python objects are large
            stop = start + _DECODE_BYTES
            end = (
                len(data) if stop >= len(data) else _json_record_end(data, start, stop) or len(data)
            )
            try:
                frames.append(_ndjson_frame(file, data[start:end], sum(f.height for f in frames)))
            except (msgspec.MsgspecError, RecursionError) as error:
                where = _ndjson_problem(data[start:end], piece.line + data.count(b"\n", 0, start))
                raise EventInputError(
                    f"{file.path}: cannot be read as ndjson: {where}; ({error})"
                ) from error
            start = end
    return pl.concat(frames, how="diagonal") if frames else pl.DataFrame()


def _read_text_table(file: EventFile, limit: int) -> pl.DataFrame:
    return _read_csv(file, limit) if file.format == "csv" else _read_ndjson(file, limit)


@cache
def _time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def not_plain_columns(schema: pl.Schema) -> list[str]:
    """The columns of a table (customers, labels) that hold lists, structs or bytes, as
    `name (type)`: such a table's values are read as text, dates or numbers, which those are not."""
    return [f"{name} ({dtype})" for name, dtype in schema.items() if _not_plain(dtype)]


def _not_plain(dtype: pl.DataType) -> bool:
    return dtype.is_nested() or dtype == pl.Binary


def error_text(error: BaseException) -> str:
    """An error's message in one line: its first (Polars adds hints and query plans below)."""
    return next(iter(str(error).strip().splitlines()), type(error).__name__)


def polars_readable_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with each timestamp whose time zone is not a named zone (a fixed offset such as
    `+05:30`, which Arrow allows and pandas writes) in UTC: the same instants, Arrow keeps them
    in UTC. Polars cannot read such a zone: it panics, past any error handling."""
    for index, field in enumerate(schema):
        zone = getattr(field.type, "tz", None)
        if zone is not None and zone not in _time_zone_names():
            utc = pa.timestamp(field.type.unit, "UTC")
            schema = schema.set(index, field.with_type(utc))
    return schema


def read_parquet_frame(source: str | io.BytesIO) -> pl.DataFrame:
    """A Parquet file as a Polars frame, timestamps in zones Polars cannot name read in UTC
    (polars_readable_schema). Raises PolarsError, ArrowException or OSError."""
    schema = pq.read_schema(source)
    if isinstance(source, io.BytesIO):
        source.seek(0)  # reading the schema left the stream at its end: the rows come after
    readable = polars_readable_schema(schema)
    if readable == schema:
        return pl.read_parquet(source, glob=False)
    frame = pl.from_arrow(pq.read_table(source).cast(readable))
    assert isinstance(frame, pl.DataFrame)  # a table gives a frame
    return frame


PARQUET_ERRORS = (pl.exceptions.PolarsError, pa.ArrowException, OSError, PanicException)
"""What reading a Parquet file that is not what it says raises (a panic: Polars' last word on
a file it cannot read)."""


def _read_parquet(file: EventFile, limit: int) -> pl.DataFrame:
    try:
        if file.compression:  # Parquet needs random access: decompressed in memory, bounded
            return read_parquet_frame(io.BytesIO(b"".join(_blocks(file, limit))))
        return read_parquet_frame(file.path)
    except PARQUET_ERRORS as error:
        raise EventInputError(
            f"{file.path}: cannot be read as parquet: {error_text(error)}"
        ) from error


def _typed(frame: Frame, file: EventFile) -> Frame:
    schema = frame.collect_schema()
    missing = [c for c in EVENT_COLUMN_NAMES if c not in schema]
    if missing and isinstance(frame, pl.DataFrame) and frame.height == 0 and not frame.columns:
        frame = pl.DataFrame(schema={c: pl.String for c in EVENT_COLUMN_NAMES})
        schema = frame.schema
        missing = []
    if missing and file.format == "table":  # a configured source: its mapping names them
        raise EventInputError(
            f"{file.path}: missing required column(s) {', '.join(missing)} "
            f"(found: {', '.join(schema.names()) or 'none'}); "
            "map the source's columns onto event_id, customer_id, event_type, occurred_at"
        )
    if message := missing_columns_message(file.path, schema.names(), EVENT_COLUMN_NAMES):
        raise EventInputError(message)
    if message := reserved_columns_message(file.path, schema.names()):
        raise EventInputError(message)
    occurred = schema["occurred_at"]
    if occurred == pl.String:
        occurred_at = timestamp_from_text(pl.col("occurred_at"))
        text = pl.col("occurred_at")
    else:
        try:
            occurred_at = timestamp_from_typed(pl.col("occurred_at"), occurred)
        except TypeError as error:
            raise EventInputError(f"{file.path}: column occurred_at: {error}") from error
        text = pl.lit(None, dtype=pl.String)
    # ids keep their text as read (blank ones too: validation calls them missing, and the
    # quarantine keeps them as they were)
    ids = [c for c in ("event_id", "customer_id", "event_type")]
    return frame.with_columns(
        *[pl.col(c).cast(pl.String) for c in ids if schema[c] != pl.String],
        text.alias(OCCURRED_AT_TEXT),
    ).with_columns(
        occurred_at,
        pl.lit(file.path).alias(SOURCE_FILE),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(SOURCE_ROW),
    )


def refuse_type_changes(
    schema: pl.Schema, path: str, source_columns: Mapping[str, str] | None = None
) -> None:
    """Reject typed columns whose type contradicts the contract (schema evolution: new columns
    are ignored, missing optional ones are null, a changed type is an error: binary ids too,
    whose bytes need not be text). `source_columns` (event column -> the file's own name, a
    source's mapping reversed) names the column as the file does."""
    expected = {c: pl.String() for c in ("event_id", "customer_id", "event_type")}
    expected |= {c.name: c.dtype for c in OPTIONAL_EVENT_COLUMNS}
    for name, contract in expected.items():
        actual = schema.get(name)
        if actual is None or actual == pl.Null:
            continue
        fits = actual.is_numeric() if contract.is_numeric() else actual == pl.String
        # integer ids are ids, and categories (pandas) are text
        text = actual.is_integer() or isinstance(actual, pl.Categorical | pl.Enum)
        fits = fits or (contract == pl.String and text)
        if not fits:
            own = (source_columns or {}).get(name, name)
            column = name if own == name else f"{own} (mapped to {name})"
            raise EventInputError(
                f"{path}: column {column} is {actual}, the event contract says {contract}: "
                "the source's type changed; cast it back at the source or map another column"
            )


def extras_as_text(frame: Frame) -> Frame:
    """Other columns that have no text of their own as text: nested ones as JSON (as NDJSON
    keeps them), binary ones as hexadecimal, durations in ISO 8601 (the quarantine holds every
    field as text)."""
    schema = frame.collect_schema()
    nested = [c for c, dtype in schema.items() if dtype.is_nested()]
    binary = [c for c, dtype in schema.items() if dtype == pl.Binary]
    durations = [c for c, dtype in schema.items() if isinstance(dtype, pl.Duration)]
    return frame.with_columns(
        *[pl.col(c).dt.to_string() for c in durations],  # ISO 8601 (P1DT5S): no cast to text
        *[
            # {"v":<JSON>} less its 5 + 1 wrapping characters
            pl.when(pl.col(c).is_not_null())
            .then(pl.struct(pl.col(c).alias("v")).struct.json_encode().str.slice(5).str.head(-1))
            .alias(c)
            for c in nested
        ],
        *[pl.col(c).bin.encode("hex") for c in binary],
    )


def read_event_file(
    file: EventFile, max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES
) -> pl.DataFrame:
    """One file as a raw event frame (required columns typed, extras kept as they are)."""
    if file.format != "parquet":  # text formats are read as text: nothing typed to contradict
        return _typed(_read_text_table(file, max_uncompressed_bytes), file)
    frame = _read_parquet(file, max_uncompressed_bytes)
    refuse_type_changes(frame.schema, file.path)
    return _typed(extras_as_text(frame), file)


def _scanned_parquet(file: EventFile) -> pl.LazyFrame:
    """An uncompressed Parquet file as a lazy raw event frame (read_event_file's steps as one
    query); its schema is read now, so a file that is not Parquet fails here, by name."""
    try:
        arrow_schema = pq.read_schema(file.path)
        if polars_readable_schema(arrow_schema) != arrow_schema:
            return read_event_file(file).lazy()  # read through Arrow, the zone in UTC
        scan = pl.scan_parquet(file.path, glob=False)
        schema = scan.collect_schema()
    except PARQUET_ERRORS as error:
        raise EventInputError(
            f"{file.path}: cannot be read as parquet: {error_text(error)}"
        ) from error
    if not schema:  # no columns at all: read_event_file's empty-file rule
        return read_event_file(file).lazy()
    refuse_type_changes(schema, file.path)
    return _typed(extras_as_text(scan), file)


def read_events(
    files: list[EventFile], max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES
) -> pl.DataFrame:
    """All files as one raw event frame, in file order, with a global `_row` id.

    Uncompressed Parquet files are read by one query (Polars reads them in parallel: 5 M
    events in 90 files in 0.3 s, against 0.7 s one by one); the others one by one. A query
    that fails is read again file by file, so the error names the file."""
    lazy = [
        _scanned_parquet(f)
        if f.format == "parquet" and not f.compression
        else read_event_file(f, max_uncompressed_bytes).lazy()
        for f in files
    ]
    try:
        # in memory: the streaming engine copies each file's literal path into every row
        raw = pl.concat(extras_alike(lazy), how="diagonal_relaxed").with_row_index(ROW_ID)
        return raw.collect(engine="in-memory")
    except (pl.exceptions.PolarsError, OSError):
        frames = [read_event_file(f, max_uncompressed_bytes) for f in files]
        return pl.concat(extras_alike(frames), how="diagonal_relaxed").with_row_index(ROW_ID)


def extras_alike(frames: list[Frame]) -> list[Frame]:
    """The frames (of files or a source's pieces) with their extra columns as text where they
    have none of their own (extras_as_text), and each extra column whose type differs between
    frames as text in all of them: each value as its file wrote it, where concatenating would
    take a supertype (a date in one file, an integer in the next: day numbers) or find none (a
    time, then a boolean). A column that is all null (type Null) in a file differs from none."""
    frames = [extras_as_text(frame) for frame in frames]
    schemas = [frame.collect_schema() for frame in frames]
    types: dict[str, set[pl.DataType]] = {}
    for schema in schemas:
        for name, dtype in schema.items():
            if dtype != pl.Null:
                types.setdefault(name, set()).add(dtype)
    own = {*EVENT_COLUMN_NAMES, *(c.name for c in OPTIONAL_EVENT_COLUMNS), *RESERVED_COLUMNS}
    differing = [name for name, kinds in types.items() if len(kinds) > 1 and name not in own]
    return [
        frame.with_columns(pl.col(c).cast(pl.String) for c in differing if c in schema)
        for frame, schema in zip(frames, schemas, strict=True)
    ]


def read_untyped_file(
    file: EventFile, max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES
) -> pl.DataFrame:
    """One file's columns as stored (text tables as text), before renaming and typing."""
    if file.format == "parquet":
        return _read_parquet(file, max_uncompressed_bytes)
    return _read_text_table(file, max_uncompressed_bytes)


def typed_event_frame(frame: pl.DataFrame, origin: str) -> pl.DataFrame:
    """Any source's canonical columns as a raw event frame, provenance naming `origin`."""
    return _typed(frame, EventFile(path=origin, format="table", compression=None))
