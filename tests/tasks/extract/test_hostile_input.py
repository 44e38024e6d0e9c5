"""Hostile input: SQL identifiers, oversized fields, schema evolution."""

import gzip
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from scoring.config import ScoringConfig, ValidationRules
from scoring.schema import SOURCE_FILE
from tasks.extract.customers import CustomersInputError, read_customers
from tasks.extract.files import EventFile, EventInputError, event_files, read_events
from tasks.extract.sources.base import ExtractWindow
from tasks.extract.sources.config import PostgresSourceConfig, sources_from_document
from tasks.extract.sources.postgres import select_statement
from tasks.quality.validate import validate


def _postgres_source(table: str, time_column: str = "ts") -> dict:
    settings = {"kind": "postgres", "table": table, "columns": {time_column: "occurred_at"}}
    return {"sources": {"warehouse": settings}}


@pytest.mark.parametrize(
    "table",
    [
        "events; drop table users",
        'events" --',
        "1events",
        "",
        "ev ents",
        "événements",
        "events'--",
        'analytics."events"',
        "a.b.c",
    ],
)
def test_hostile_table_names_are_refused_naming_the_source(table: str) -> None:
    with pytest.raises(ValueError, match=r"sources\.warehouse.*not `table` or `schema\.table`"):
        sources_from_document(_postgres_source(table))


@pytest.mark.parametrize("column", ['ts" --', "ts desc", "1ts", "ts;"])
def test_hostile_time_columns_are_refused(column: str) -> None:
    with pytest.raises(ValueError, match="not a plain identifier"):
        sources_from_document(_postgres_source("events", column))


def test_plain_names_are_double_quoted_in_the_select() -> None:
    source = sources_from_document(_postgres_source("Analytics.select", "Order$1"))["warehouse"]
    window = ExtractWindow(start=None, end=datetime(2026, 4, 1, tzinfo=UTC))
    assert isinstance(source, PostgresSourceConfig)
    sql, parameters = select_statement(source, window)
    assert sql == (
        'SELECT * FROM "Analytics"."select" AS engage_source '
        'WHERE "Order$1" < $1 OR "Order$1" IS NULL'
    )
    assert parameters == [window.end]


def _raw(tmp_path: Path, rows: list[dict]) -> pl.DataFrame:
    path = tmp_path / "events.csv"
    pl.DataFrame(rows).write_csv(path)
    return read_events([EventFile.of(str(path))])


def test_oversized_ids_and_event_types_are_quarantined_with_the_reason(tmp_path: Path) -> None:
    at = "2026-03-31T00:00:00Z"
    rows = [
        {"event_id": "e1", "customer_id": "c" * 256, "event_type": "login", "occurred_at": at},
        {"event_id": "e2", "customer_id": "c" * 257, "event_type": "login", "occurred_at": at},
        {"event_id": "e3", "customer_id": "c", "event_type": "t" * 10_000, "occurred_at": at},
        {"event_id": "e" * 300, "customer_id": "c", "event_type": "login", "occurred_at": at},
    ]
    validated = validate(_raw(tmp_path, rows))
    assert validated.valid["event_id"].to_list() == ["e1"]  # exactly 256 is allowed
    assert validated.quarantine.select("source_row", "reason").rows() == [
        (2, "customer_id is longer than 256 characters"),
        (3, "event_type is longer than 256 characters"),
        (4, "event_id is longer than 256 characters"),
    ]


def test_the_field_limit_is_configurable(tmp_path: Path) -> None:
    at = "2026-03-31T00:00:00Z"
    rows = [{"event_id": "e1", "customer_id": "abcdef", "event_type": "login", "occurred_at": at}]
    config = ScoringConfig(validation=ValidationRules(max_id_length=5))
    validated = validate(_raw(tmp_path, rows), config)
    assert validated.quarantine["reason"].to_list() == ["customer_id is longer than 5 characters"]


def _parquet(tmp_path: Path, name: str, **columns: list) -> EventFile:
    base = {
        "event_id": ["e1"],
        "customer_id": ["c1"],
        "event_type": ["login"],
        "occurred_at": [datetime(2026, 3, 31, tzinfo=UTC)],
    }
    path = tmp_path / name
    pl.DataFrame({**base, **columns}).drop(
        [k for k, v in columns.items() if v is None]
    ).write_parquet(path)
    return EventFile.of(str(path))


def test_new_columns_are_kept_but_ignored_and_missing_optional_ones_tolerated(
    tmp_path: Path,
) -> None:
    with_new = _parquet(tmp_path, "a.parquet", brand_new_column=[{"x": 1}], value=[9.0])
    without_optional = _parquet(tmp_path, "b.parquet")
    raw = read_events([with_new, without_optional])
    assert raw.height == 2
    assert raw["value"].to_list() == [9.0, None]
    assert validate(raw).rows_valid == 1  # same event_id: the first counts once


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("value", ["nine"], "column value is String, the event contract says Float64"),
        ("customer_id", [1.5], "column customer_id is Float64, the event contract says String"),
        ("event_type", [True], "column event_type is Boolean, the event contract says String"),
        ("page", [[1, 2]], r"column page is List\(Int64\), the event contract says String"),
    ],
)
def test_a_changed_column_type_is_rejected_naming_file_and_column(
    tmp_path: Path, column: str, values: list, message: str
) -> None:
    file = _parquet(tmp_path, "changed.parquet", **{column: values})
    with pytest.raises(EventInputError, match=rf"changed\.parquet: {message}: the source's type"):
        read_events([file])


def test_integer_ids_in_parquet_are_ids(tmp_path: Path) -> None:
    file = _parquet(tmp_path, "ints.parquet", customer_id=[42])
    assert read_events([file])["customer_id"].to_list() == ["42"]


@pytest.mark.parametrize("name", ["e?.parquet", "e*.parquet", "e[x].parquet"])
def test_a_parquet_file_named_like_a_glob_is_read_alone(tmp_path: Path, name: str) -> None:
    """Polars read the name as a glob: `e?.parquet` also read ex.parquet's rows (under the
    wrong file name), `e[x].parquet` matched nothing and the run crashed."""
    named = _parquet(tmp_path, name, event_id=["named"])
    other = _parquet(tmp_path, "ex.parquet", event_id=["other"])
    raw = read_events(event_files(str(tmp_path)))
    assert sorted(raw.select("event_id", SOURCE_FILE).rows()) == [
        ("named", named.path),
        ("other", other.path),
    ]


def test_a_gzipped_parquet_file_is_read(tmp_path: Path) -> None:
    """Reading the schema left the decompressed stream at its end: never a row was read."""
    plain = _parquet(tmp_path, "events.parquet", event_id=["zipped"])
    zipped = tmp_path / "events.parquet.gz"
    zipped.write_bytes(gzip.compress(Path(plain.path).read_bytes()))
    assert read_events([EventFile.of(str(zipped))])["event_id"].to_list() == ["zipped"]


@pytest.mark.parametrize("suffix", [".csv", ".ndjson", ".parquet"])
def test_a_customers_table_named_like_a_glob_is_read(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"customers[1]{suffix}"
    table = pl.DataFrame({"customer_id": ["a"], "plan": ["pro"]})
    getattr(table, f"write_{suffix[1:]}")(path)
    assert read_customers(str(path))["customer_id"].to_list() == ["a"]


def test_a_column_name_holding_a_nul_is_one_error_naming_it(tmp_path: Path) -> None:
    """Arrow hands column names over as C strings: writing the quarantine (which keeps every
    input column) panicked on `a\\x00b`, ending the process with a Rust backtrace."""
    path = tmp_path / "events.ndjson"
    row = '{"a\\u0000b": 1, "event_id": "e1", "customer_id": "c1", "event_type": "login", '
    path.write_text(row + '"occurred_at": "2026-03-30T10:00:00Z"}\n')
    with pytest.raises(EventInputError, match=r"events\.ndjson: column name\(s\) 'a\\x00b' hold"):
        read_events([EventFile.of(str(path))])


def test_a_gzipped_parquet_customers_table_is_read(tmp_path: Path) -> None:
    """The README promises .gz for every customers format: Parquet was read undecompressed."""
    plain = tmp_path / "customers.parquet"
    pl.DataFrame({"customer_id": ["a"], "plan": ["pro"]}).write_parquet(plain)
    zipped = tmp_path / "customers.parquet.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    assert read_customers(str(zipped)).rows() == [("a", "pro")]


def test_a_customers_header_naming_a_column_twice_is_one_error(tmp_path: Path) -> None:
    """Polars renamed the second `plan_duplicated_0`: its values were silently ignored."""
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,plan,plan\na,pro,free\n")
    with pytest.raises(
        CustomersInputError,
        match=r"customers\.csv: cannot read the customers table: the header names column 'plan'",
    ):
        read_customers(str(path))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_a_wide_encoding_without_a_byte_order_mark_is_named(tmp_path: Path, encoding: str) -> None:
    """UTF-16/32 text without a BOM decodes as 'UTF-8' with a NUL between letters: the error
    said the required columns were missing and quoted e\\x00v\\x00e\\x00n\\x00t..."""
    path = tmp_path / "events.csv"
    text = "event_id,customer_id,event_type,occurred_at\ne1,c1,login,2026-03-30T10:00:00Z\n"
    path.write_bytes(text.encode(encoding))
    wide = r"events\.csv: the header's names are interleaved with NUL bytes: .* re-encode"
    with pytest.raises(EventInputError, match=wide):
        read_events([EventFile.of(str(path))])
