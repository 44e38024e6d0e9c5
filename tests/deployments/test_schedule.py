"""The daily deployment as served: its schedule, its typed parameters, and the run date of a
scheduled run (the day before its scheduled time in the schedule's time zone)."""

import json
from datetime import UTC, datetime

from prefect import get_client
from prefect.states import Scheduled

from tests.deployments.conftest import Stack
from tests.deployments.flow_runs import DAILY, completed, start_daily


def test_daily_deployment_is_scheduled_in_bucharest_with_a_typed_form(stack: Stack) -> None:
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DAILY)
        backfill = client.read_deployment_by_name("engagement-backfill/backfill")
    [schedule] = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 * * *", "Europe/Bucharest")
    assert deployment.enforce_parameter_schema
    run_date = deployment.parameter_openapi_schema["properties"]["run_date"]
    assert {"type": "string", "format": "date"} in run_date["anyOf"]
    assert backfill.enforce_parameter_schema
    assert backfill.parameter_openapi_schema["required"] == ["start", "end"]


def test_a_scheduled_run_scores_the_day_before_in_the_schedules_time_zone(stack: Stack) -> None:
    # 21:30 UTC on 29 March is 00:30 on 30 March in Bucharest (EEST, UTC+3 since that
    # morning): the day before is 29 March there, while UTC's day before would be 28 March
    scheduled_at = datetime(2026, 3, 29, 21, 30, tzinfo=UTC)
    run_id = start_daily({}, state=Scheduled(scheduled_time=scheduled_at))
    run = completed(run_id)
    assert run.name == "score-2026-03-29"
    manifest = json.loads(
        (stack.output / "runs" / "run_date=2026-03-29" / "manifest.json").read_text()
    )
    assert manifest["flow_run_id"] == str(run_id)
    assert not (stack.output / "runs" / "run_date=2026-03-28").exists()
