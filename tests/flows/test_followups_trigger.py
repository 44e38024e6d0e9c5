"""The trigger path on a real Prefect server: a daily run's event starts the follow-up
deployment (served with its trigger), which posts each action to a local webhook receiver
exactly once, through a receiver that fails twice first, and never again on a rerun."""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from deployments.serve_followups import DEPLOYMENT_NAME, run_event_trigger
from tests.flows.real_server import (
    PROJECT_ROOT,
    api,
    client_environment,
    prefect_server,
    serving,
    wait_until,
)
from tests.flows.webhook_receiver import Receiver, webhook_receiver

pytestmark = [pytest.mark.e2e, pytest.mark.real_server]

RUN_DATE = "2026-03-31"
EVENTS_CSV = """event_id,customer_id,event_type,occurred_at
e1,ana,app_uninstalled,2026-03-30T10:00:00Z
e2,ben,app_uninstalled,2026-03-31T10:00:00Z
e3,cleo,integration_added,2026-03-31T10:00:00Z
e4,cleo,integration_added,2026-03-31T11:00:00Z
e5,dan,login,2026-03-31T11:00:00Z
"""


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    with webhook_receiver(failures=2) as running:
        yield running


def test_prefect_yaml_declares_the_same_trigger_as_serve() -> None:
    document = yaml.safe_load((PROJECT_ROOT / "deployments" / "prefect.yaml").read_text())
    (deployment,) = [d for d in document["deployments"] if d["name"] == DEPLOYMENT_NAME]
    (declared,) = deployment["triggers"]
    trigger = run_event_trigger()
    assert set(declared["expect"]) == trigger.expect
    assert declared["match"] == trigger.match.model_dump()
    assert declared["parameters"] == trigger.parameters
    assert deployment["entrypoint"] == "flows/followups.py:deliver_followups"


def completed_followup_runs(api_url: str, deployment_id: str) -> list[dict[str, Any]]:
    runs = api(
        api_url,
        "POST",
        "/flow_runs/filter",
        {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}},
    )
    failed = [r for r in runs if r["state_type"] in ("FAILED", "CRASHED")]
    assert not failed, f"follow-up run failed: {failed[0]['state']}"
    return [r for r in runs if r["state_type"] == "COMPLETED"]


def test_daily_run_event_starts_delivery_exactly_once(
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
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
    home = tmp_path / "prefect"
    with prefect_server(home) as api_url, serving("deployments.serve_followups", api_url, home):
        deployment = wait_until(
            lambda: next(
                (
                    d
                    for d in api(api_url, "POST", "/deployments/filter", {})
                    if d["name"] == DEPLOYMENT_NAME
                ),
                None,
            ),
            120,
            "the served follow-up deployment",
        )
        # serve registers the deployment first and its trigger (an automation) right after
        automations = wait_until(
            lambda: api(api_url, "POST", "/automations/filter", {}),
            60,
            "the follow-up deployment's automation",
        )
        assert [a["trigger"]["expect"] for a in automations] == [["engage.scoring.completed"]]

        def daily_run() -> None:
            subprocess.run(
                [
                    str(Path(sys.executable).parent / "engage"),
                    "run",
                    "--events",
                    str(events),
                    "--config",
                    str(config),
                    "--run-date",
                    RUN_DATE,
                    "--output",
                    str(output),
                    "--deliver-baseline",  # the output's first run: deliver, do not queue
                ],
                env=client_environment(api_url, home),
                cwd=PROJECT_ROOT,
                check=True,
                capture_output=True,
                timeout=600,
            )

        daily_run()
        (run,) = wait_until(
            lambda: completed_followup_runs(api_url, deployment["id"]),
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
        assert (
            bodies["2026-03-31:upsell_ready:cleo:new"]["action"]["priority"] == (cleo["priority"])
        )
        assert bodies["2026-03-31:at_risk:ben:new"]["action"]["score"] == -20.0
        drop = pl.read_csv(output / "crm_drop" / f"run_date={RUN_DATE}" / "actions.csv")
        assert sorted(drop["action_id"]) == expected

        # a rerun of the day emits the event again: the follow-up run finds every action in
        # the ledger and notifies nobody twice
        daily_run()
        wait_until(
            lambda: len(completed_followup_runs(api_url, deployment["id"])) == 2,
            180,
            "the second follow-up run",
        )
        assert len(state.requests) == len(expected) + 2
        ledger = (output / "deliveries" / "webhook_ledger.jsonl").read_text().splitlines()
        assert sorted(json.loads(line)["action_id"] for line in ledger) == expected
