"""Start deployment runs on the test stack and wait for them."""

import time
from datetime import datetime
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, StateType, TaskRun
from prefect.client.schemas.sorting import TaskRunSort

DAILY = "daily-engagement-scoring/daily"


def start_daily(parameters: dict[str, Any], state: Any = None) -> UUID:
    """Create a run of the daily deployment (the serve process picks it up)."""
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DAILY)
        return client.create_flow_run_from_deployment(
            deployment.id, parameters=parameters, state=state
        ).id


def read_flow_run(run_id: UUID) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def wait_for(run_id: UUID, states: set[StateType], timeout: float = 300) -> FlowRun:
    """Poll the run until it is in one of `states`; fail on another final state or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        run = read_flow_run(run_id)
        if run.state_type in states:
            return run
        if run.state is not None and run.state.is_final():
            raise AssertionError(f"flow run {run.name} ended {run.state_type}: {run.state}")
        if time.monotonic() > deadline:
            raise AssertionError(f"flow run {run.name} still {run.state_type} after {timeout} s")
        time.sleep(0.25)


def completed(run_id: UUID, timeout: float = 300) -> FlowRun:
    return wait_for(run_id, {StateType.COMPLETED}, timeout)


def task_runs(run_id: UUID) -> list[TaskRun]:
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,  # the sync client sends null otherwise
            limit=200,
        )


def busy_interval(run_id: UUID) -> tuple[datetime, datetime]:
    """From the first task start to the last task end of a run: the time it held its lock
    (every task of the daily flow runs under the run date's lock)."""
    runs = task_runs(run_id)
    assert runs, f"flow run {run_id} has no task runs"
    starts = [r.start_time for r in runs if r.start_time is not None]
    ends = [r.end_time for r in runs if r.end_time is not None]
    assert len(starts) == len(ends) == len(runs)
    return min(starts), max(ends)
