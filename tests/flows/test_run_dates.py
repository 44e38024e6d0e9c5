"""Run-date semantics: the day before the scheduled time, in the schedule's time zone."""

from datetime import UTC, date, datetime, timedelta, timezone

from flows.run_dates import day_before


def test_day_before_in_bucharest_across_the_spring_dst_change() -> None:
    # 2026-03-29 03:00 local: Bucharest moves from UTC+2 to UTC+3
    assert day_before(datetime(2026, 3, 29, 3, 0, tzinfo=UTC), "Europe/Bucharest") == date(
        2026, 3, 28
    )  # 06:00 EEST on the change day
    assert day_before(datetime(2026, 3, 29, 21, 30, tzinfo=UTC), "Europe/Bucharest") == date(
        2026, 3, 29
    )  # 00:30 local on 30 March, still 29 March in UTC
    assert day_before(datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "Europe/Bucharest") == date(
        2026, 3, 28
    )  # 00:30 EET on 29 March (UTC+2 before the change): the day before is 28 March


def test_day_before_in_utc_and_for_naive_times() -> None:
    assert day_before(datetime(2024, 3, 1, 0, 0, tzinfo=UTC), "UTC") == date(2024, 2, 29)
    assert day_before(datetime(2026, 1, 1, 0, 0), "UTC") == date(2025, 12, 31)  # naive = UTC
    new_york = timezone(timedelta(hours=-5))
    assert day_before(datetime(2026, 1, 1, 23, 0, tzinfo=new_york), "UTC") == date(2026, 1, 1)
