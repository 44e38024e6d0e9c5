"""serve.py serves what prefect.yaml declares (no server needed)."""

from pathlib import Path

import pytest

from deployments.serve import PROJECT_ROOT, declared_deployments, runner_deployments, triggers_of


def test_served_deployments_match_prefect_yaml() -> None:
    declared = {d["name"]: d for d in declared_deployments()}
    assert set(declared) == {"daily", "backfill", "followups", "backtest"}
    served = {d.name: d for d in runner_deployments(active_schedules=False)}
    present = {
        n for n, d in declared.items() if (PROJECT_ROOT / d["entrypoint"].split(":")[0]).is_file()
    }
    assert set(served) == present == set(declared)
    for name, deployment in served.items():
        assert deployment.entrypoint == declared[name]["entrypoint"]
        assert deployment.enforce_parameter_schema
    [schedule] = served["daily"].schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 * * *", "Europe/Bucharest")
    assert schedule.active is False
    assert not served["backfill"].schedules
    backfill_schema = served["backfill"]._parameter_openapi_schema.model_dump()
    assert backfill_schema["properties"]["max_concurrent"]["maximum"] == 8
    assert Path(PROJECT_ROOT / "deployments" / "prefect.yaml").is_file()


def test_event_triggers_are_served_as_declared() -> None:
    declared = {
        "name": "followups",
        "triggers": [
            {
                "type": "event",
                "name": "engage-scoring-completed",
                "enabled": True,
                "expect": ["engage.scoring.completed"],
                "match": {"prefect.resource.id": "engage.scoring.*"},
                "parameters": {"run_date": "{{ event.payload.run_date }}"},
            }
        ],
    }
    [trigger] = triggers_of(declared)
    assert trigger.expect == {"engage.scoring.completed"}
    assert trigger.match.root == {"prefect.resource.id": "engage.scoring.*"}
    assert trigger.parameters == {"run_date": "{{ event.payload.run_date }}"}
    assert triggers_of({"name": "daily"}) == []
    with pytest.raises(ValueError, match="only event triggers"):
        triggers_of({"name": "x", "triggers": [{"type": "compound"}]})
