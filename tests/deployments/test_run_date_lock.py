"""One run per run date at a time, through the served deployment: runs of the same date wait
for each other, a run of another date goes ahead."""

from datetime import date

from prefect.client.schemas.objects import StateType
from prefect.concurrency.sync import concurrency

from flows.locks import ensure_lock, run_date_lock_name
from tests.deployments.conftest import Stack
from tests.deployments.flow_runs import (
    busy_interval,
    completed,
    read_flow_run,
    start_daily,
    wait_for,
)

LOCKED_DATE = date(2026, 3, 24)
# not the day after: that run's follow-up step would wait for the locked date to publish
OTHER_DATE = date(2026, 3, 22)


def test_same_date_runs_serialize_and_other_dates_run_concurrently(stack: Stack) -> None:
    name = run_date_lock_name(LOCKED_DATE)
    ensure_lock(name)
    # the test holds the date's lock, as a run of that date would
    with concurrency(name, occupy=1, strict=True, lease_duration=60):
        first = start_daily({"run_date": LOCKED_DATE.isoformat()})
        second = start_daily({"run_date": LOCKED_DATE.isoformat()})
        other = start_daily({"run_date": OTHER_DATE.isoformat()})
        for run_id in (first, second):
            wait_for(run_id, {StateType.RUNNING})
        other_run = completed(other)

        # the other date finished while both runs of the locked date were running (waiting)
        for run_id in (first, second):
            run = read_flow_run(run_id)
            assert run.state_type == StateType.RUNNING
            assert run.start_time is not None and other_run.end_time is not None
            assert run.start_time < other_run.end_time
        assert not (stack.output / "runs" / f"run_date={LOCKED_DATE}").exists()
        assert (stack.output / "runs" / f"run_date={OTHER_DATE}" / "manifest.json").is_file()

    completed(first)
    completed(second)
    intervals = sorted([busy_interval(first), busy_interval(second)])
    assert intervals[0][1] <= intervals[1][0], f"same-date runs overlapped: {intervals}"
    assert (stack.output / "runs" / f"run_date={LOCKED_DATE}" / "manifest.json").is_file()
