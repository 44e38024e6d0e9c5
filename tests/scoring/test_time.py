"""Time: run dates are UTC days; DST days in Europe/Bucharest, leap days, exact midnights."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from scoring.config import ScoringConfig
from scoring.engagement import Window, customer_scores
from scoring.events import timestamp_from_text
from scoring.run_dates import scheduled_run_date

BUCHAREST = ZoneInfo("Europe/Bucharest")


def _counted(times: list[str], run_date: date, window_days: int = 1) -> list[str]:
    """Which of the event times count in the run date's window."""
    events = pl.LazyFrame(
        {"event_id": times, "customer_id": times, "event_type": ["login"] * len(times)}
    ).with_columns(timestamp_from_text(pl.lit(pl.Series(times))))
    config = ScoringConfig(window_days=window_days, weights={"login": 1})
    scores = customer_scores(events, config, run_date).filter(pl.col("score") == 1).collect()
    return sorted(scores["customer_id"].to_list(), key=times.index)


@pytest.mark.parametrize(
    ("scheduled_local", "expected"),
    [
        (datetime(2026, 3, 30, 6, 0), date(2026, 3, 29)),  # day after DST start (23 h day)
        (datetime(2026, 3, 29, 6, 0), date(2026, 3, 28)),  # on DST start, after 03:00 -> 04:00
        (datetime(2026, 10, 26, 6, 0), date(2026, 10, 25)),  # day after DST end (25 h day)
        (datetime(2026, 4, 1, 1, 30), date(2026, 3, 31)),  # 22:30 UTC the day before
        (datetime(2028, 3, 1, 6, 0), date(2028, 2, 29)),  # leap day
    ],
)
def test_a_scheduled_run_scores_the_previous_local_day(
    scheduled_local: datetime, expected: date
) -> None:
    scheduled = scheduled_local.replace(tzinfo=BUCHAREST)
    assert scheduled_run_date(scheduled.astimezone(UTC), "Europe/Bucharest") == expected
    assert scheduled_run_date(scheduled, "Europe/Bucharest") == expected


def test_a_naive_schedule_time_is_refused() -> None:
    with pytest.raises(ValueError, match="must carry a time zone"):
        scheduled_run_date(datetime(2026, 3, 30, 6), "Europe/Bucharest")


def test_the_dst_change_day_is_a_whole_utc_day() -> None:
    # 29 March 2026: Bucharest jumps from 03:00 (+02:00) to 04:00 (+03:00), 23 local hours
    window = Window.ending_on(date(2026, 3, 29), 1)
    assert window.end - window.start == timedelta(hours=24)
    times = [
        "2026-03-29T01:59:59+02:00",  # 23:59:59Z on the 28th: out
        "2026-03-29T02:00:00+02:00",  # 00:00Z: in (exactly midnight UTC)
        "2026-03-29T04:30:00+03:00",  # 01:30Z: in (just after the jump)
        "2026-03-30T02:59:59+03:00",  # 23:59:59Z: in
        "2026-03-30T03:00:00+03:00",  # 00:00Z on the 30th: out
    ]
    assert _counted(times, date(2026, 3, 29)) == times[1:4]


def test_the_autumn_dst_day_is_a_whole_utc_day() -> None:
    # 25 October 2026: 04:00 (+03:00) becomes 03:00 (+02:00), 25 local hours
    times = [
        "2026-10-25T02:59:59+03:00",  # 23:59:59Z on the 24th: out
        "2026-10-25T03:30:00+03:00",  # 00:30Z: in (first 03:30)
        "2026-10-25T03:30:00+02:00",  # 01:30Z: in (second 03:30)
        "2026-10-26T01:59:59+02:00",  # 23:59:59Z: in
        "2026-10-26T02:00:00+02:00",  # 00:00Z on the 26th: out
    ]
    assert _counted(times, date(2026, 10, 25)) == times[1:4]


def test_leap_day() -> None:
    times = [
        "2028-02-28T23:59:59.999999Z",
        "2028-02-29T00:00:00Z",
        "2028-02-29T23:59:59.999999Z",
        "2028-03-01T00:00:00Z",
    ]
    assert _counted(times, date(2028, 2, 29)) == times[1:3]
    # 30 days ending 1 March: 1 March + 29 days of February 2028 -> starts 1 February;
    # in 2027 (28 days in February) the same window starts 31 January
    assert Window.ending_on(date(2028, 3, 1), 30).start == datetime(2028, 2, 1, tzinfo=UTC)
    assert Window.ending_on(date(2027, 3, 1), 30).start == datetime(2027, 1, 31, tzinfo=UTC)
    edges = ["2028-01-31T23:59:59Z", "2028-02-01T00:00:00Z", "2028-03-01T23:59:59Z"]
    assert _counted(edges, date(2028, 3, 1), window_days=30) == edges[1:]


def test_events_exactly_at_midnight_belong_to_the_day_they_start() -> None:
    times = ["2026-03-31T00:00:00Z", "2026-04-01T00:00:00Z", "2026-03-31"]  # bare date: midnight
    assert _counted(times, date(2026, 3, 31)) == [times[0], times[2]]
    assert _counted(times, date(2026, 4, 1)) == [times[1]]
