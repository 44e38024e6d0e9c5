"""Which day a run scores when nobody says: the day before its scheduled time, in the time zone
of the deployment's schedule (UTC for runs without a deployment, such as the CLI)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from prefect import get_client
from prefect.runtime import deployment, flow_run

DEFAULT_TIMEZONE = "UTC"


def day_before(scheduled_at: datetime, timezone: str) -> date:
    """The calendar day before `scheduled_at` as seen in `timezone` (a naive time is UTC).

    A run scheduled at 06:00 Europe/Bucharest on 30 March scores 29 March; so does one at
    00:30 local time on 30 March, although it is still 29 March (21:30) in UTC.
    """
    if scheduled_at.tzinfo is None:
        scheduled_at = scheduled_at.replace(tzinfo=UTC)
    return scheduled_at.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


def deployment_timezone() -> str:
    """The time zone of the current deployment's first schedule that names one, else UTC."""
    deployment_id = deployment.get_id()
    if not deployment_id:
        return DEFAULT_TIMEZONE
    with get_client(sync_client=True) as client:
        schedules = client.read_deployment(deployment_id).schedules
    for deployment_schedule in schedules:
        timezone = getattr(deployment_schedule.schedule, "timezone", None)
        if timezone:
            return str(timezone)
    return DEFAULT_TIMEZONE


def scheduled_run_date() -> date:
    """The run date of a run started without one: the day before its scheduled start time
    (now, for a manual run or outside any run) in the deployment's time zone."""
    return day_before(flow_run.get_scheduled_start_time(), deployment_timezone())
