"""serve.py serves what prefect.yaml declares (no server needed)."""

from pathlib import Path

from deployments.serve import PROJECT_ROOT, declared_deployments, runner_deployments


def test_served_deployments_match_prefect_yaml() -> None:
    declared = {d["name"]: d for d in declared_deployments()}
    assert set(declared) == {"daily", "backfill", "followups"}
    served = {d.name: d for d in runner_deployments(active_schedules=False)}
    present = {
        n for n, d in declared.items() if (PROJECT_ROOT / d["entrypoint"].split(":")[0]).is_file()
    }
    assert set(served) == present >= {"daily", "backfill"}
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
