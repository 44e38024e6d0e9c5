"""Raw event rows to typed, de-duplicated events: timestamp parsing, blanks, duplicates."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from scoring.events import (
    ROW_ID,
    blank_as_null,
    events_until,
    later_occurrences,
    timestamp_from_text,
    timestamp_from_typed,
)
from scoring.schema import UTC_TIMESTAMP


def parsed(text: str | None) -> datetime | None:
    frame = pl.DataFrame({"text": [text]}, schema={"text": pl.String})
    result = frame.select(timestamp_from_text(pl.col("text")))
    assert result.schema == pl.Schema({"occurred_at": UTC_TIMESTAMP})
    value = result.item()
    assert value is None or isinstance(value, datetime)
    return value


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # offsets, with and without a colon
        ("2026-02-01T01:00:00+02:00", utc(2026, 1, 31, 23)),
        ("2026-02-01T01:00:00+0200", utc(2026, 1, 31, 23)),
        ("2026-02-01T01:00:00-05:30", utc(2026, 2, 1, 6, 30)),
        ("2026-02-01T01:00:00-0530", utc(2026, 2, 1, 6, 30)),
        ("2026-02-01T01:00:00+00:00", utc(2026, 2, 1, 1)),
        ("2026-02-01T01:00:00-00:00", utc(2026, 2, 1, 1)),
        ("2026-02-01T01:00+02:00", utc(2026, 1, 31, 23)),
        # offsets that cross the UTC day (and month) boundary
        ("2026-01-31T23:30:00-01:00", utc(2026, 2, 1, 0, 30)),
        ("2026-02-01T00:30:00+01:00", utc(2026, 1, 31, 23, 30)),
        ("2026-12-31T23:00:00-02:00", utc(2027, 1, 1, 1)),
        # Z in either case
        ("2026-02-01T01:00:00Z", utc(2026, 2, 1, 1)),
        ("2026-02-01T01:00:00z", utc(2026, 2, 1, 1)),
        # naive = UTC, space or lower-case t instead of T, minutes only
        ("2026-02-01T01:00:00", utc(2026, 2, 1, 1)),
        ("2026-02-01 01:00:00", utc(2026, 2, 1, 1)),
        ("2026-02-01t01:00:00", utc(2026, 2, 1, 1)),
        ("2026-02-01 01:00:00+02:00", utc(2026, 1, 31, 23)),
        ("2026-02-01T01:00", utc(2026, 2, 1, 1)),
        # fractional seconds
        ("2026-02-01T01:00:00.5Z", utc(2026, 2, 1, 1, 0, 0, 500000)),
        ("2026-02-01T01:00:00.123456", utc(2026, 2, 1, 1, 0, 0, 123456)),
        ("2026-02-01T01:00:00.123+01:00", utc(2026, 2, 1, 0, 0, 0, 123000)),
        ("2026-01-31T23:59:59.999999Z", utc(2026, 1, 31, 23, 59, 59, 999999)),
        # bare date = midnight UTC
        ("2026-02-01", utc(2026, 2, 1)),
        ("2024-02-29", utc(2024, 2, 29)),
        # surrounding white space is ignored
        ("  2026-02-01T01:00:00Z  ", utc(2026, 2, 1, 1)),
    ],
)
def test_timestamp_from_text_parses_iso_8601(text: str, expected: datetime) -> None:
    assert parsed(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        "",
        "   ",
        "2026-02-30",  # no such day
        "2026-02-30T10:00:00Z",
        "2025-02-29",  # not a leap year
        "2026-13-01",
        "2026-02-01T25:00:00",
        "2026-02-01T10:61:00Z",
        "01/02/2026",
        "2026-02-01Tgarbage",
        None,
    ],
)
def test_timestamp_from_text_gives_null_for_what_is_not_a_timestamp(text: str | None) -> None:
    assert parsed(text) is None


def test_timestamp_from_text_mixed_column_keeps_rows_aligned() -> None:
    frame = pl.DataFrame(
        {"text": ["2026-02-01T01:00:00+0200", "garbage", "2026-02-01", "2026-02-01 01:00:00"]}
    )
    assert frame.select(timestamp_from_text(pl.col("text")))["occurred_at"].to_list() == [
        utc(2026, 1, 31, 23),
        None,
        utc(2026, 2, 1),
        utc(2026, 2, 1, 1),
    ]


def test_timestamp_from_typed_naive_is_utc() -> None:
    frame = pl.DataFrame({"at": [datetime(2026, 2, 1, 1, 2, 3, 456789)]})
    result = frame.select(timestamp_from_typed(pl.col("at"), frame.schema["at"]))
    assert result.schema["at"] == UTC_TIMESTAMP
    assert result.item() == utc(2026, 2, 1, 1, 2, 3, 456789)


def test_timestamp_from_typed_converts_other_zones_and_units() -> None:
    paris = ZoneInfo("Europe/Paris")
    frame = pl.DataFrame(
        {"at": [datetime(2026, 2, 1, 0, 30, tzinfo=paris)]},
        schema={"at": pl.Datetime("ns", "Europe/Paris")},
    )
    result = frame.select(timestamp_from_typed(pl.col("at"), frame.schema["at"]))
    assert result.schema["at"] == UTC_TIMESTAMP
    assert result.item() == utc(2026, 1, 31, 23, 30)


def test_timestamp_from_typed_date_is_midnight_utc() -> None:
    frame = pl.DataFrame({"at": [date(2026, 2, 1)]})
    result = frame.select(timestamp_from_typed(pl.col("at"), frame.schema["at"]))
    assert result.schema["at"] == UTC_TIMESTAMP
    assert result.item() == utc(2026, 2, 1)


def test_timestamp_from_typed_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="occurred_at must be"):
        timestamp_from_typed(pl.col("at"), pl.Int64())


def test_blank_as_null() -> None:
    frame = pl.DataFrame({"customer_id": ["a", "", "   ", "\t", None, " b "]})
    assert frame.select(blank_as_null("customer_id"))["customer_id"].to_list() == [
        "a",
        None,
        None,
        None,
        None,
        " b ",
    ]


def _events(ids: list[str], rows: list[int]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "event_id": ids,
            "customer_id": [f"c{row}" for row in rows],
            ROW_ID: rows,
        },
        schema={"event_id": pl.String, "customer_id": pl.String, ROW_ID: pl.Int64},
    )


def _later_rows(events: pl.LazyFrame) -> list[int]:
    return later_occurrences(events).collect()[ROW_ID].to_list()


def test_later_occurrences_are_every_row_but_the_first_of_each_event_id() -> None:
    events = _events(["e1", "e2", "e1", "e3", "e1", "e2"], [0, 1, 2, 3, 4, 5])
    assert _later_rows(events) == [2, 4, 5]


def test_later_occurrences_go_by_row_number_not_frame_order() -> None:
    events = _events(["e1", "e1", "e1"], [7, 2, 5])
    assert _later_rows(events) == [5, 7]  # row 2 is the first occurrence


def test_unique_events_and_null_ids_never_repeat() -> None:
    assert _later_rows(_events(["e1", "e2", "e3"], [2, 0, 1])) == []
    ids = ["a", "b", "a", None, "c", "b", None, "a", "d"]
    assert _later_rows(_events(ids, list(range(9)))) == [2, 5, 7]


def test_rows_left_out_neither_repeat_nor_shadow_a_later_row() -> None:
    """Validation passes the rows it does not quarantine: a quarantined first "a" does not
    make the next "a" a duplicate."""
    ids = ["a", "b", "a", None, "c", "b", None, "a", "d"]
    passing = _events(ids, list(range(9))).filter(pl.col(ROW_ID) != 0)
    assert _later_rows(passing) == [5, 7]


def test_later_occurrences_compare_the_text_when_hashes_collide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ids whose 64-bit hashes repeat are told apart by their text: forced here by hashing
    every id to the same value (a stand-in for a real collision)."""
    monkeypatch.setattr(pl.Expr, "hash", lambda *_: pl.lit(7, dtype=pl.UInt64))
    assert _later_rows(_events(["x1", "x2", "x1", "x3"], [0, 1, 2, 3])) == [2]


def test_later_occurrences_of_large_inputs_match_first_distinct() -> None:
    ids = [f"e{(i * 7919) % 5003}" if i % 11 else None for i in range(20_000)]
    events = _events(ids, list(range(20_000)))
    expected = (
        events.filter(pl.col("event_id").is_not_null() & ~pl.col("event_id").is_first_distinct())
        .collect()[ROW_ID]
        .to_list()
    )
    assert _later_rows(events) == expected


def test_events_until_is_strictly_before() -> None:
    cut = utc(2026, 2, 1)
    events = pl.LazyFrame(
        {
            "occurred_at": [
                utc(2026, 1, 31, 23, 59, 59, 999999),
                utc(2026, 2, 1),
                utc(2026, 2, 1, 0, 0, 0, 1),
                utc(2020, 1, 1),
            ]
        },
        schema={"occurred_at": UTC_TIMESTAMP},
    )
    kept = events_until(events, cut).collect()["occurred_at"].to_list()
    assert kept == [utc(2026, 1, 31, 23, 59, 59, 999999), utc(2020, 1, 1)]
