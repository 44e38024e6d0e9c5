"""`engage server`: a Prefect server and a warm runner started once in the background. Commands
handed to the runner (after their own pre-flight checks) exit as they would on their own, print
to the caller's terminal and write the same outputs as an in-process run."""

import json
import subprocess
import sys
import urllib.request
from datetime import date
from pathlib import Path

from flows.daily import daily_scoring
from flows.settings import load_config
from tests.conftest import EngageServer

ENGAGE = str(Path(sys.executable).parent / "engage")
EVENTS = """event_id,customer_id,event_type,occurred_at
e1,a,login,2026-03-30T10:00:00Z
e2,b,invite_sent,2026-03-31T09:00:00Z
e3,a,login,2026-03-31T11:00:00Z
"""


def _flow_runs(api_url: str) -> int:
    request = urllib.request.Request(
        f"{api_url}/flow_runs/count", data=b"{}", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.loads(response.read()))


def test_commands_handed_to_the_runner_exit_and_write_as_on_their_own(
    engage_server: EngageServer, prefect_api: str, tmp_path: Path
) -> None:
    (tmp_path / "events.csv").write_text(EVENTS)
    config = tmp_path / "config.yaml"
    config.write_text("weights: {login: 1, invite_sent: 8}\n")

    def run(output: str, *more: str) -> subprocess.CompletedProcess[str]:
        inputs = ["--events", str(tmp_path / "events.csv"), "--config", str(config)]
        return engage_server.engage(
            "run", *inputs, "--run-date", "2026-03-31", "--output", output, *more
        )

    state = engage_server.state
    served = run(str(tmp_path / "served"))
    assert served.returncode == 0, served.stderr
    assert "customers scored" in served.stdout  # printed to the caller's stdout
    assert _flow_runs(state.api_url) == 1  # run by the runner, against its server
    mistake = run(str(tmp_path / "x"), "--customers", str(tmp_path / "none.csv"))
    assert (mistake.returncode, mistake.stderr.strip()) == (
        2,
        f"error: {tmp_path / 'none.csv'}: customers table not found; check --customers",
    )
    assert _flow_runs(state.api_url) == 1  # refused by the pre-flight, never handed over
    config.write_text(
        "weights: {login: 1}\nvalidation: {error_budget: 0, error_budget_min_rows: 0}\n"
    )
    (tmp_path / "events.csv").write_text(EVENTS + "e4,,login,2026-03-31T12:00:00Z\n")
    gate = run(str(tmp_path / "gated"))
    assert gate.returncode == 3, gate.stdout + gate.stderr
    assert gate.stderr.startswith("data-quality gate: data-quality gate failed for 2026-03-31")

    (tmp_path / "events.csv").write_text(EVENTS)
    config.write_text("weights: {login: 1, invite_sent: 8}\n")
    daily_scoring(
        events=str(tmp_path / "events.csv"),
        config=load_config(config),
        run_date=date(2026, 3, 31),
        output=str(tmp_path / "in-process"),
    )
    partition = Path("scores") / "run_date=2026-03-31" / "part-0.parquet"
    in_process = (tmp_path / "in-process" / partition).read_bytes()
    assert (tmp_path / "served" / partition).read_bytes() == in_process
