"""One real Prefect stack for the session: PostgreSQL (when installed), a Prefect server and
the serve process with the deployments, exactly as `make server` starts them."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from deployments.local_stack import LocalStack, free_port
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
    database: str
    events: Path
    config: Path
    output: Path
    home: Path
    customers: Path


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("prefect-stack")
    events = write_daily_events(home / "events.csv", FIRST_EVENT_DAY, EVENT_DAYS)
    config = home / "config.yaml"
    config.write_text(CONFIG_YAML + TRIAL_RULE_YAML)
    customers = home / "customers.csv"
    customers.write_text(CUSTOMERS_CSV)
    output = home / "served-output"
    environment = {
        "ENGAGE_EVENTS": str(events),
        "ENGAGE_CONFIG": str(config),
        "ENGAGE_OUTPUT": str(output),
        "ENGAGE_CUSTOMERS": str(customers),
    }
    # schedules registered but off: the tests start every run themselves
    local = LocalStack(home, free_port(), serve_environment=environment, inactive_schedules=True)
    with local:
        yield Stack(
            ui_url=local.server.url,
            api_url=local.server.api_url,
            database=local.database,
            events=events,
            config=config,
            output=output,
            home=home,
            customers=customers,
        )


@pytest.fixture
def api(stack: Stack) -> Iterator[str]:
    """Point this test's Prefect client at the stack's server."""
    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        yield stack.api_url
