"""Raw event rows to typed, de-duplicated events: timestamp parsing, blanks, duplicates."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from scoring.events import (
    ROW_ID,
    blank_as_null,
    events_until,
    first_occurrences,
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


def test_first_occurrences_keeps_the_first_row_of_each_event_id() -> None:
    events = _events(["e1", "e2", "e1", "e3", "e1", "e2"], [0, 1, 2, 3, 4, 5])
    kept = first_occurrences(events).sort(ROW_ID).collect()
    assert kept.select("event_id", ROW_ID).rows() == [("e1", 0), ("e2", 1), ("e3", 3)]


def test_first_occurrences_goes_by_row_number_not_frame_order() -> None:
    events = _events(["e1", "e1", "e1"], [7, 2, 5])
    assert first_occurrences(events).collect()["customer_id"].to_list() == ["c2"]


def test_first_occurrences_leaves_unique_events_alone() -> None:
    events = _events(["e1", "e2", "e3"], [2, 0, 1])
    assert first_occurrences(events).collect().equals(events.collect())


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
