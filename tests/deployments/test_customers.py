"""The customers table in scheduled runs: the served daily deployment takes ENGAGE_CUSTOMERS
as its `customers` default (described in the UI form), and a scheduled-style run uses it for
plan-based rules, owners, names and values."""

from datetime import UTC, datetime

import polars as pl
from prefect import get_client
from prefect.states import Scheduled

from tests.deployments.conftest import Stack
from tests.deployments.flow_runs import DAILY, completed, start_daily


def test_a_scheduled_run_routes_its_flags_with_the_deployments_customers(stack: Stack) -> None:
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DAILY)
    assert deployment.parameters["customers"] == str(stack.customers)
    form = deployment.parameter_openapi_schema["properties"]["customers"]
    assert "ENGAGE_CUSTOMERS" in form["description"] and "account_owner" in form["description"]
    # 04:00 UTC on 21 March is 06:00 in Bucharest: the run scores 20 March, before every other
    # date the stack's tests score, so it is the output's baseline
    run_id = start_daily({}, state=Scheduled(scheduled_time=datetime(2026, 3, 21, 4, tzinfo=UTC)))
    assert completed(run_id).name == "score-2026-03-20"
    flags = pl.read_parquet(stack.output / "flags" / "run_date=2026-03-20" / "part-0.parquet")
    assert flags.sort("customer_id").select(
        "customer_id", "rules", "status", "account_owner", "customer_name", "plan", "value"
    ).rows() == [
        (f"c{i:02d}", "trial_customer", "queued", f"Owner {i % 3}", f"Customer {i}", "trial",
         1000.0 * i)
        for i in (1, 3, 5, 7)
    ]  # fmt: skip
