"""Property: a single hostile value in any column of any format is kept or quarantined with
its text as written, or the file is refused with a one-line error; never an unexpected
exception, never a row lost (rows read = valid + quarantined + duplicates).

Each example writes a CSV, an NDJSON and a Parquet file, each holding two plain rows and one
row per hostile cell, then reads them (tasks.extract.files) and validates them together
(tasks.quality.validate, one Great Expectations run per example).
"""

import csv
import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.config import ScoringConfig, ValidationRules
from tasks.extract.files import EventFile, EventInputError, read_events
from tasks.quality.validate import Validated, validate

RUN_DATE = date(2026, 3, 31)
NOW = datetime(2026, 4, 1, 6, tzinfo=UTC)
CONFIG = ScoringConfig(
    weights={"login": 1},
    validation=ValidationRules(error_budget_min_rows=1_000_000),  # the gate is not under test
)
TEXT_COLUMNS = ("event_id", "customer_id", "event_type", "occurred_at", "note")
NUMBER_COLUMNS = ("amount", "value")
PLAIN = {
    "customer_id": "c1",
    "event_type": "login",
    "occurred_at": "2026-03-30T10:00:00Z",
    "note": "plain",
    "amount": "1.5",
    "value": "7",
}
HOSTILE_TEXT = [
    "", " ", "\t", "\n", "\r", "\r\n", " \u00a0 ", "\x00", "\x07", "\x1b[31m", "\x7f", "\x85",
    "\u2028", "\u2029", "\ufeff", "\u202e", "\u200b", "login\r", "log\tin", '"', '""', "'",
    ",", ";", "\\", "{", '{"a": 1}', "[1, 2]", "null", "true", "NaN", "inf", "-Infinity",
    "1e308", "1e30", "-1e400", "1e-400", "-0", "0", "9007199254740993", "1.50", "1e3",
    "123456789012345678901234567890", "0000-01-01T00:00:00Z", "-0001-06-01", "+10000-01-01",
    "9999-12-31T23:59:59Z", "2026-02-30", "2026-03-30T23:59:60Z", "[/bold]", "<script>x</script>",
    "=1+1", "@SUM(A1)", "../../etc/passwd", "'; DROP TABLE events; --", "e\u0301", "\U0001f600",
    "l\u043egin", "x" * 300, "event_id,customer_id", "sep=,",
]  # fmt: skip
JSON_NUMBER_TOKENS = ["-0", "0", "1.50", "1e3", "1E+3", "9007199254740993", "1e308", "1e-400",
                      "123456789012345678901234567890", "-9223372036854775809"]  # fmt: skip
texts = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),  # no lone surrogates
)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e30, 1e308, -1e308, -0.0, 5e-324, 1e15, 999999999999999.0]),
)


@dataclass(frozen=True)
class Cell:
    """One hostile value in one column of one row of one format."""

    format: str
    column: str
    value: str | float
    as_json_number: bool = False  # NDJSON: written as a number token, not a string


ALL_FORMATS, TEXT_FORMATS = (
    st.sampled_from(["csv", "ndjson", "parquet"]),
    st.sampled_from(["csv", "ndjson"]),
)
cells = st.one_of(
    st.builds(Cell, ALL_FORMATS, st.sampled_from(TEXT_COLUMNS), texts),
    st.builds(Cell, TEXT_FORMATS, st.sampled_from(NUMBER_COLUMNS), texts),
    st.builds(Cell, st.just("parquet"), st.sampled_from(NUMBER_COLUMNS), floats),
    st.builds(
        Cell,
        st.just("ndjson"),
        st.sampled_from(TEXT_COLUMNS + NUMBER_COLUMNS),
        st.sampled_from(JSON_NUMBER_TOKENS),
        st.just(True),
    ),
)


def _rows(format: str, batch: list[Cell]) -> list[dict[str, str | float]]:
    """Two plain rows, then one row per hostile cell (plain ids are unlike any hostile one)."""
    rows: list[dict[str, str | float]] = [
        {"event_id": f"{format}-plain-{n}", **PLAIN} for n in range(2)
    ]
    for n, cell in enumerate(c for c in batch if c.format == format):
        rows.append({"event_id": f"{format}-hostile-{n}", **PLAIN, cell.column: cell.value})
    return rows


def _json(value: str | float) -> str:
    return json.dumps(value, ensure_ascii=False)


def _write(directory: Path, format: str, batch: list[Cell]) -> Path:
    rows, path = _rows(format, batch), directory / f"events.{format}"
    columns = list(rows[0])
    if format == "csv":
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, columns)
            writer.writeheader()
            writer.writerows(rows)
    elif format == "ndjson":
        hostile = [c for c in batch if c.format == format]
        numbers = {n + 2: c.column for n, c in enumerate(hostile) if c.as_json_number}
        lines = []
        for index, row in enumerate(rows):
            fields = [
                f"{json.dumps(name)}: {value if numbers.get(index) == name else _json(value)}"
                for name, value in row.items()
            ]
            lines.append("{" + ", ".join(fields) + "}\n")
        path.write_text("".join(lines), encoding="utf-8")
    else:
        schema = {c: pl.Float64 if c in NUMBER_COLUMNS else pl.String for c in columns}
        typed = [
            {c: float(v) if c in NUMBER_COLUMNS else v for c, v in row.items()} for row in rows
        ]
        pl.DataFrame(typed, schema=schema).write_parquet(path)
    return path


def _as_written(cell: Cell) -> str | None:
    """The text the quarantine (or a valid row, for text columns) must show for a value."""
    if isinstance(cell.value, float):  # Parquet: the number's text
        return pl.Series([cell.value]).cast(pl.String)[0]
    if cell.format == "csv" and cell.value == "":
        return None  # an empty CSV field is missing
    return cell.value


def _control(character: str) -> bool:
    """A character no id may hold: Unicode's controls, line and paragraph separators."""
    return unicodedata.category(character) in ("Cc", "Zl", "Zp")


def _check(batch: list[Cell]) -> None:
    with TemporaryDirectory() as directory:
        read = []
        for format in ("csv", "ndjson", "parquet"):
            path = _write(Path(directory), format, batch)
            try:
                frame = read_events([EventFile.of(str(path))])
            except EventInputError as error:  # a refused file: one line naming it
                message = str(error)
                assert message.startswith(str(path)) and "\n" not in message, message
                continue
            assert frame.height == len(_rows(format, batch)), "a row lost while reading"
            read.append(EventFile.of(str(path)))
        if not read:
            return
        validated = validate(read_events(read), CONFIG, RUN_DATE, NOW)
        _check_outcome(validated, batch, {Path(f.path).suffix.lstrip(".") for f in read})


def _check_outcome(validated: Validated, batch: list[Cell], formats: set[str]) -> None:
    assert validated.rows_read == (
        validated.rows_valid + validated.rows_quarantined + validated.duplicates_removed
    )
    for format in formats:
        hostile = [c for c in batch if c.format == format]
        for n, cell in enumerate(hostile):
            row = 3 + n  # two plain rows first, source rows count from 1
            where = (pl.col("source_file").str.ends_with(f"events.{format}")) & (
                pl.col("source_row") == row
            )
            quarantined = validated.quarantine.filter(where)
            valid = validated.valid.filter(where)
            assert quarantined.height + valid.height <= 1
            if quarantined.height:
                shown = quarantined[cell.column][0]
                reasons = quarantined["reason"][0]
                assert reasons and "\n" not in reasons
                assert shown == _as_written(cell), (cell, shown, reasons)
            elif valid.height and cell.column in ("event_id", "customer_id", "event_type"):
                kept = valid[cell.column][0]
                assert kept == _as_written(cell), cell
                assert kept.strip() and not any(_control(c) for c in kept), cell
            elif not valid.height:  # neither kept nor quarantined: a duplicate event_id
                assert cell.column == "event_id", cell


@settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(batch=st.lists(cells, min_size=1, max_size=12))
def test_a_hostile_value_in_any_column_of_any_format_is_kept_quarantined_or_refused(
    batch: list[Cell],
) -> None:
    _check(batch)


def test_every_listed_hostile_value_in_every_column_of_every_format() -> None:
    """The fixed list, exhaustively: each text value in each column of the text formats (and
    of Parquet's text columns), in one batch per format."""
    for format in ("csv", "ndjson", "parquet"):
        columns = TEXT_COLUMNS + (() if format == "parquet" else NUMBER_COLUMNS)
        for column in columns:
            _check([Cell(format, column, value) for value in HOSTILE_TEXT])
