"""Incremental state: extraction windows, watermarks, the deduplicating event store, late
events and the run dates they affect (hand-computed)."""

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from tasks.extract.sources.base import ExtractWindow
from tasks.extract.sources.memory import MemorySource
from tasks.extract.sources.state import (
    STORE_SCHEMA,
    add_to_store,
    affected_run_dates,
    extraction_window,
    read_watermark,
    store_files,
    stored_events,
    write_watermark,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_first_run_reads_everything_up_to_the_end_of_the_run_date() -> None:
    window = extraction_window(None, date(2026, 3, 31), lookback_days=3, incremental=True)
    assert window == ExtractWindow(start=None, end=utc(2026, 4, 1))


def test_next_run_reads_since_the_watermark_minus_the_lookback() -> None:
    window = extraction_window(utc(2026, 4, 1), date(2026, 4, 1), lookback_days=3, incremental=True)
    assert window == ExtractWindow(start=utc(2026, 3, 29), end=utc(2026, 4, 2))


def test_rerun_of_an_older_date_reads_its_own_lookback_only() -> None:
    window = extraction_window(
        utc(2026, 4, 10), date(2026, 4, 1), lookback_days=2, incremental=True
    )
    assert window == ExtractWindow(start=utc(2026, 3, 31), end=utc(2026, 4, 2))


def test_not_incremental_always_reads_everything() -> None:
    window = extraction_window(utc(2026, 4, 1), date(2026, 4, 1), 3, incremental=False)
    assert window.start is None


def test_watermark_round_trip(tmp_path: Path) -> None:
    assert read_watermark(tmp_path, "warehouse") is None
    write_watermark(tmp_path, "warehouse", utc(2026, 4, 1), date(2026, 3, 31))
    assert read_watermark(tmp_path, "warehouse") == utc(2026, 4, 1)
    assert [p.name for p in (tmp_path / "_state" / "watermarks").iterdir()] == ["warehouse.json"]


def test_window_keeps_rows_without_a_time_so_they_are_quarantined() -> None:
    frame = pl.DataFrame(
        {
            "event_id": ["a", "b", "c", "d"],
            "customer_id": ["x"] * 4,
            "event_type": ["login"] * 4,
            "occurred_at": [
                "2026-03-28T23:59:59Z",  # before the window
                "2026-03-29T00:00:00Z",  # first instant: in
                "2026-04-01T00:00:00Z",  # end is exclusive: out
                "not a time",  # unreadable: kept for validation
            ],
        }
    )
    source = MemorySource("mem", frame)
    window = ExtractWindow(start=utc(2026, 3, 29), end=utc(2026, 4, 1))
    read = source.read(window).collect()
    assert read["event_id"].to_list() == ["b", "d"]
    assert read["_row"].to_list() == [0, 1]
    assert read["source_row"].to_list() == [2, 4]
    assert read["source_file"].to_list() == ["memory:mem"] * 2


def test_column_mapping_renames_source_columns() -> None:
    frame = pl.DataFrame(
        {"id": [1], "user_id": ["007"], "name": ["login"], "ts": ["2026-03-31T10:00:00+02:00"]}
    )
    source = MemorySource(
        "mem", frame, {"id": "event_id", "user_id": "customer_id", "name": "event_type",
                       "ts": "occurred_at"}
    )  # fmt: skip
    read = source.read(ExtractWindow(None, utc(2026, 4, 1))).collect()
    assert read.select("event_id", "customer_id", "event_type", "occurred_at").row(0) == (
        "1",
        "007",
        "login",
        utc(2026, 3, 31, 8),
    )


def test_a_mapped_column_missing_from_the_data_names_the_source() -> None:
    frame = pl.DataFrame(
        {"event_id": ["1"], "customer_id": ["c"], "event_type": ["x"], "t": ["2026-01-01"]}
    )
    source = MemorySource("mem", frame, {"ts": "occurred_at"})
    message = r"source 'mem': memory:mem: column\(s\) ts of the column mapping"
    with pytest.raises(ValueError, match=message):
        source.read(ExtractWindow(None, utc(2026, 4, 1)))


def _valid(*rows: tuple[str, str, datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "event_type": ["login"] * len(rows),
            "occurred_at": [r[2] for r in rows],
            "source_file": ["f"] * len(rows),
            "source_row": list(range(1, len(rows) + 1)),
            "campaign": ["x"] * len(rows),  # not a contract column: not stored
        },
        schema_overrides={"occurred_at": pl.Datetime("us", "UTC")},
    )


def test_store_adds_each_event_once_by_event_date(tmp_path: Path) -> None:
    first = add_to_store(
        _valid(("e1", "a", utc(2026, 3, 30, 9)), ("e2", "a", utc(2026, 3, 31, 9))), tmp_path, None
    )
    assert (first.events_added, first.events_already_stored, first.late_events) == (2, 0, 0)
    assert first.event_dates_added == ["2026-03-30", "2026-03-31"]
    # the lookback re-reads e2; e3 is new; e0 arrived late (before the watermark)
    second = add_to_store(
        _valid(
            ("e2", "a", utc(2026, 3, 31, 9)),
            ("e3", "b", utc(2026, 4, 1, 9)),
            ("e0", "b", utc(2026, 3, 29, 23)),
        ),
        tmp_path,
        previous_watermark=utc(2026, 4, 1),
    )
    assert (second.events_added, second.events_already_stored) == (2, 1)
    assert (second.late_events, second.late_event_dates) == (1, ["2026-03-29"])
    assert second.store_events == 4
    stored = stored_events(tmp_path).collect()
    assert stored.schema == STORE_SCHEMA
    assert sorted(stored["event_id"].to_list()) == ["e0", "e1", "e2", "e3"]
    assert [p.parent.name for p in store_files(tmp_path)] == [
        "event_date=2026-03-29",
        "event_date=2026-03-30",
        "event_date=2026-03-31",
        "event_date=2026-04-01",
    ]
    # the key lives in the directory name only: every file has exactly the store's columns
    assert pl.read_parquet(store_files(tmp_path)[0]).columns == list(STORE_SCHEMA)


def test_affected_run_dates_are_published_dates_on_or_after_the_late_event() -> None:
    published = [date(2026, 3, 27), date(2026, 3, 29), date(2026, 3, 30), date(2026, 4, 1)]
    assert affected_run_dates(["2026-03-29"], published, run_date=date(2026, 4, 1)) == [
        "2026-03-29",
        "2026-03-30",
    ]
    assert affected_run_dates([], published, date(2026, 4, 1)) == []
