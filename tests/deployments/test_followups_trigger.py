"""The trigger path on the served stack: a daily run's event starts the follow-up deployment
(served with its trigger), which posts each action to a local webhook receiver exactly once,
through a receiver that fails twice first, and never again on a rerun."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from prefect import get_client
from typer.testing import CliRunner

from deployments.local_stack import PROJECT_ROOT, api_post, wait_until
from deployments.serve_followups import DEPLOYMENT_NAME, run_event_trigger
from flows.cli import app
from tests.deployments.conftest import Stack
from tests.servers import Receiver

RUN_DATE = "2026-03-31"
EVENTS_CSV = """event_id,customer_id,event_type,occurred_at
e1,ana,app_uninstalled,2026-03-30T10:00:00Z
e2,ben,app_uninstalled,2026-03-31T10:00:00Z
e3,cleo,integration_added,2026-03-31T10:00:00Z
e4,cleo,integration_added,2026-03-31T11:00:00Z
e5,dan,login,2026-03-31T11:00:00Z
"""


@pytest.fixture
def trigger_on(stack: Stack) -> Iterator[None]:
    """The follow-up trigger resumed for this test (the stack keeps it paused)."""
    with get_client(sync_client=True) as client:
        for automation_id in stack.automations:
            client.resume_automation(automation_id)
    yield
    with get_client(sync_client=True) as client:
        for automation_id in stack.automations:
            client.pause_automation(automation_id)


def test_prefect_yaml_declares_the_same_trigger_as_serve() -> None:
    document = yaml.safe_load((PROJECT_ROOT / "deployments" / "prefect.yaml").read_text())
    (deployment,) = [d for d in document["deployments"] if d["name"] == DEPLOYMENT_NAME]
    (declared,) = deployment["triggers"]
    trigger = run_event_trigger()
    assert set(declared["expect"]) == trigger.expect
    assert declared["match"] == trigger.match.model_dump()
    assert declared["parameters"] == trigger.parameters
    assert deployment["entrypoint"] == "flows/followups.py:deliver_followups"


def completed_followup_runs(api_url: str, deployment_id: str, output: Path) -> list[dict[str, Any]]:
    """The completed follow-up runs of the scoring runs into `output` (fails on a failed one)."""
    runs = api_post(
        api_url, "/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}}
    )
    runs = [r for r in runs if r["parameters"].get("output") == str(output.resolve())]
    failed = [r for r in runs if r["state_type"] in ("FAILED", "CRASHED")]
    assert not failed, f"follow-up run failed: {failed[0]['state']}"
    return [r for r in runs if r["state_type"] == "COMPLETED"]


def test_daily_run_event_starts_delivery_exactly_once(
    stack: Stack, trigger_on: None, webhook_receiver: Receiver, tmp_path: Path
) -> None:
    state, url = webhook_receiver, webhook_receiver.url
    state.failures = 2
    events = tmp_path / "events.csv"
    events.write_text(EVENTS_CSV)
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "weights": {"login": 1, "integration_added": 60, "app_uninstalled": -20},
                "followups": {
                    "rules": [
                        {
                            "name": "churn_risk",
                            "kind": "at_risk",
                            "when": {"condition": "tier", "tiers": ["churn_risk"]},
                            "reason": "negative score ({score})",
                        },
                        {
                            "name": "power_user",
                            "kind": "upsell_ready",
                            "when": {"condition": "tier", "tiers": ["power_user"]},
                            "reason": "power user ({score})",
                        },
                    ],
                    "delivery": {"webhook_url": url, "retries": 3, "backoff_seconds": 0.1},
                },
            }
        )
    )
    output = tmp_path / "out"
    deployment = next(
        d
        for d in api_post(stack.api_url, "/deployments/filter", {})
        if d["name"] == DEPLOYMENT_NAME
    )
    automations = api_post(stack.api_url, "/automations/filter", {})
    assert [a["trigger"]["expect"] for a in automations] == [["engage.scoring.completed"]]

    def daily_run() -> None:
        arguments = ["run", "--events", str(events), "--config", str(config)]
        arguments += ["--run-date", RUN_DATE, "--output", str(output)]
        arguments += ["--deliver-baseline"]  # the output's first run: deliver, do not queue
        result = CliRunner().invoke(app, arguments)
        assert result.exit_code == 0, result.output

    daily_run()
    (run,) = wait_until(
        lambda: completed_followup_runs(stack.api_url, deployment["id"], output),
        180,
        "the triggered follow-up run",
    )
    assert run["parameters"] == {"run_date": RUN_DATE, "output": str(output.resolve())}
    actions = pl.read_parquet(output / "actions" / f"run_date={RUN_DATE}")
    expected = [
        "2026-03-31:at_risk:ana:new",
        "2026-03-31:at_risk:ben:new",
        "2026-03-31:upsell_ready:cleo:new",
    ]
    assert sorted(actions["action_id"]) == expected
    accepted = state.accepted()
    assert sorted(key for key, _ in accepted) == expected  # each exactly once
    assert len(state.requests) == len(expected) + 2  # the two failures were retried
    assert state.requests[0][1] == state.requests[2][1]  # a retry keeps its key
    bodies = {key: body for key, body in accepted}
    flags = pl.read_parquet(output / "flags" / f"run_date={RUN_DATE}")
    cleo = flags.filter(pl.col("customer_id") == "cleo").row(0, named=True)
    assert bodies["2026-03-31:upsell_ready:cleo:new"]["text"] == (
        f":rocket: *Upsell ready* · new flag · #{cleo['priority']} · customer `cleo`"
        " · score 120 (power_user)\n• power user (120)"
    )
    assert bodies["2026-03-31:upsell_ready:cleo:new"]["action"]["priority"] == cleo["priority"]
    assert bodies["2026-03-31:at_risk:ben:new"]["action"]["score"] == -20.0
    drop = pl.read_csv(output / "crm_drop" / f"run_date={RUN_DATE}" / "actions.csv")
    assert sorted(drop["action_id"]) == expected

    # a rerun of the day emits the event again: the follow-up run finds every action in the
    # ledger and notifies nobody twice
    daily_run()
    wait_until(
        lambda: len(completed_followup_runs(stack.api_url, deployment["id"], output)) == 2,
        180,
        "the second follow-up run",
    )
    assert len(state.requests) == len(expected) + 2
    ledger = (output / "deliveries" / "webhook_ledger.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["action_id"] for line in ledger) == expected
