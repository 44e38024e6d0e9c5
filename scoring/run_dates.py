"""Which day a run scores. A run date is a UTC calendar day: its window is
[run_date - (window_days - 1) days 00:00 UTC, run_date + 1 day 00:00 UTC), whatever the
deployment's time zone. The time zone only decides which date a scheduled run scores.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def scheduled_run_date(scheduled_at: datetime, time_zone: str) -> date:
    """The run date of a scheduled run: the calendar day before the scheduled time, as read on
    the deployment's wall clock (`time_zone`, e.g. Europe/Bucharest).

    A run at 06:00 Europe/Bucharest on 30 March (03:00 UTC) scores 29 March, also when 29 March
    had 23 local hours (DST start); a run at 01:30 local on 1 April (22:30 UTC on 31 March)
    scores 31 March, not 30 March as the UTC clock would say.
    """
    if scheduled_at.tzinfo is None:
        raise ValueError("scheduled_at must carry a time zone (a naive time is ambiguous)")
    return scheduled_at.astimezone(ZoneInfo(time_zone)).date() - timedelta(days=1)


RUN_DATES = (date(1900, 1, 1), date(9799, 12, 31))
"""The first and last run date: every day a run reaches from its run date (windows, lookbacks,
comparisons: at most 100 years back or ahead, scoring.config.MAX_LOOKBACK_DAYS) is then a day
Python and Polars can hold (years 1 to 9999)."""

EARLIEST_TIME_ZONE = timedelta(hours=14)
"""UTC+14 (Line Islands): the first place where a calendar day begins."""


def latest_started_date(now: datetime) -> date:
    """The latest calendar day that has begun somewhere on Earth at `now`: a later run date is
    in the future everywhere (it has no events yet, and scoring it publishes everyone as
    inactive)."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone (a naive time is ambiguous)")
    return (now.astimezone(ZoneInfo("UTC")) + EARLIEST_TIME_ZONE).date()
