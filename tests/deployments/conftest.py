"""The served stack for the session, as `make server` starts it: the serve process with every
deployment of prefect.yaml, on the session's Prefect server and PostgreSQL, and the output
directory served over http (the run artifacts link the run reports there)."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client

from deployments.local_stack import (
    OutputFiles,
    PrefectServer,
    ServeProcess,
    api_post,
    free_port,
    wait_until,
)
from tests.daily_events import CONFIG_YAML, write_daily_events

FIRST_EVENT_DAY = date(2026, 3, 1)
EVENT_DAYS = 45
CUSTOMERS_CSV = "customer_id,plan,account_owner,name,arr\n" + "".join(
    f"c{i:02d},{'trial' if i % 2 else 'pro'},Owner {i % 3},Customer {i},{1000 * i}\n"
    for i in range(1, 9)
)
TRIAL_RULE_YAML = """followups:
  rules:
    - name: trial_customer
      kind: upsell_ready
      when: {condition: product_qualified_lead, plans: [trial], tiers: [churn_risk,
             very_disengaged, somewhat_engaged, highly_engaged, power_user]}
      reason: "{plan} customer ({tier})"
"""
"""A plan-based rule: it fires only when the run reads the customers table."""


@dataclass(frozen=True)
class Stack:
    """The running stack and what its served deployments read and write."""

    ui_url: str
    api_url: str
    events: Path
    config: Path
    output: Path
    home: Path
    automations: tuple[UUID, ...]
    """the follow-up trigger's automations, paused unless a test resumes them"""
    customers: Path


@pytest.fixture(scope="session")
def stack(
    prefect_api: str, prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("served")
    events = write_daily_events(home / "events.csv", FIRST_EVENT_DAY, EVENT_DAYS)
    config = home / "config.yaml"
    config.write_text(CONFIG_YAML + TRIAL_RULE_YAML)
    customers = home / "customers.csv"
    customers.write_text(CUSTOMERS_CSV)
    output = home / "served-output"
    files = OutputFiles(output, free_port(), home / "files.log").start()
    environment = {
        "ENGAGE_OUTPUT_URL": files.url,
        "ENGAGE_EVENTS": str(events),
        "ENGAGE_CONFIG": str(config),
        "ENGAGE_OUTPUT": str(output),
        "ENGAGE_CUSTOMERS": str(customers),
    }
    # schedules registered but off: the tests start every run themselves
    serve = ServeProcess(prefect_api, home / "serve.log", environment, inactive_schedules=True)
    serve.start(names=("daily", "backfill", "followups", "backtest"))
    try:
        # serve registers the follow-up trigger right after the deployments. Every daily run of
        # the session (in-process ones too) would start a follow-up run in the serve process:
        # paused, and resumed by the test of the trigger path only
        automations = wait_until(
            lambda: api_post(prefect_api, "/automations/filter", {}),
            60,
            "the follow-up trigger",
            serve.log,
        )
        automation_ids = tuple(UUID(automation["id"]) for automation in automations)
        with get_client(sync_client=True) as client:
            for automation_id in automation_ids:
                client.pause_automation(automation_id)
        yield Stack(
            ui_url=prefect_server.url,
            api_url=prefect_api,
            events=events,
            config=config,
            output=output,
            home=home,
            automations=automation_ids,
            customers=customers,
        )
    finally:
        serve.stop()
        files.stop()
