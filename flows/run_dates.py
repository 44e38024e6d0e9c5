"""Which day a run scores when nobody says: the day before its scheduled time, in the time zone
of the deployment's schedule (UTC for runs without a deployment, such as the CLI)."""

from datetime import date

from prefect import get_client
from prefect.runtime import deployment, flow_run

from scoring.run_dates import scheduled_run_date as day_before_in

DEFAULT_TIMEZONE = "UTC"


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
    return day_before_in(flow_run.get_scheduled_start_time(), deployment_timezone())
