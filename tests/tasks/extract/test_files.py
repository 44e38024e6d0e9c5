"""Reading event files: formats, compression, typing, provenance, clear errors."""

import gzip
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tasks.extract.files import (
    OCCURRED_AT_TEXT,
    EventFile,
    EventInputError,
    event_files,
    read_events,
)

CSV = (
    "event_id,customer_id,event_type,occurred_at,plan\n"
    "1,007,login,2026-03-31T10:00:00+02:00,pro\n"
    "2,008,login,2026-03-31 10:00:00,\n"
)


def _read(*paths: Path) -> pl.DataFrame:
    return read_events([EventFile.of(str(p)) for p in paths])


def test_csv_is_read_as_text_with_typed_time_and_provenance(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(CSV)
    frame = _read(path)
    assert frame["customer_id"].to_list() == ["007", "008"]  # ids are never numbers
    assert frame["occurred_at"].to_list() == [
        datetime(2026, 3, 31, 8, tzinfo=UTC),
        datetime(2026, 3, 31, 10, tzinfo=UTC),
    ]
    assert frame["plan"].to_list() == ["pro", None]  # extra columns are kept
    assert frame["source_row"].to_list() == [1, 2]
    assert frame["source_file"].to_list() == [str(path)] * 2
    assert frame[OCCURRED_AT_TEXT].to_list() == [
        "2026-03-31T10:00:00+02:00",
        "2026-03-31 10:00:00",
    ]


def test_ndjson_gzip_and_parquet_give_the_same_events(tmp_path: Path) -> None:
    ndjson = tmp_path / "b.ndjson.gz"
    ndjson.write_bytes(
        gzip.compress(
            b'{"event_id": 1, "customer_id": "c1", "event_type": "login",'
            b' "occurred_at": "2026-03-31T00:00:00Z"}\n'
        )
    )
    parquet = tmp_path / "c.parquet"
    pl.DataFrame(
        {
            "event_id": ["1"],
            "customer_id": ["c1"],
            "event_type": ["login"],
            "occurred_at": [datetime(2026, 3, 31)],  # naive timestamp: taken as UTC
        }
    ).write_parquet(parquet)
    columns = ["event_id", "customer_id", "event_type", "occurred_at"]
    from_ndjson = _read(ndjson).select(columns)
    from_parquet = _read(parquet).select(columns)
    assert from_ndjson.equals(from_parquet)
    assert from_ndjson.row(0) == ("1", "c1", "login", datetime(2026, 3, 31, tzinfo=UTC))


def test_several_files_get_a_global_row_id_in_file_order(tmp_path: Path) -> None:
    for name in ("x.csv", "y.csv"):
        (tmp_path / name).write_text(CSV)
    files = event_files(str(tmp_path / "*.csv"))
    frame = read_events(files)
    assert frame["_row"].to_list() == [0, 1, 2, 3]
    assert frame["source_row"].to_list() == [1, 2, 1, 2]
    assert [Path(f).name for f in frame["source_file"].unique(maintain_order=True)] == [
        "x.csv",
        "y.csv",
    ]


def test_a_directory_reads_every_file_in_it(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(CSV)
    (tmp_path / "b.csv").write_text(CSV)
    assert [Path(f.path).name for f in event_files(str(tmp_path))] == ["a.csv", "b.csv"]


def test_blank_ids_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_text(
        '{"event_id": " ", "customer_id": "c", "event_type": "", '
        '"occurred_at": "2026-03-31T00:00:00Z"}\n'
    )
    frame = _read(path)
    assert frame["event_id"].to_list() == [None]
    assert frame["event_type"].to_list() == [None]


def test_missing_column_error_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event_id,user,event_type,occurred_at\n1,a,login,2026-03-31\n")
    with pytest.raises(
        EventInputError,
        match=r"events\.csv: missing required column\(s\) "
        r"customer_id \(found: event_id, user, event_type, occurred_at\)",
    ):
        _read(path)


def test_no_matching_files_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EventInputError, match="no event files match"):
        event_files(str(tmp_path / "*.csv"))


def test_unsupported_extension_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EventInputError, match=r"events\.xlsx: unsupported file type '\.xlsx'"):
        EventFile.of(str(tmp_path / "events.xlsx"))


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "events.csv.gz"
    path.write_bytes(gzip.compress(CSV.encode())[:20])
    with pytest.raises(EventInputError, match=r"events\.csv\.gz: cannot be read"):
        _read(path)


def test_integer_timestamps_in_parquet_are_rejected_with_the_type(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    pl.DataFrame(
        {"event_id": ["1"], "customer_id": ["c"], "event_type": ["x"], "occurred_at": [1]}
    ).write_parquet(path)
    with pytest.raises(EventInputError, match=r"e\.parquet: column occurred_at: .* not Int64"):
        _read(path)


def test_empty_csv_gives_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert _read(path).height == 0
