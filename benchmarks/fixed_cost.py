"""The fixed cost of a run, step by step: what a 3-row `engage run` pays before and around the
project's own work (docs/performance.md, "The fixed cost of a run").

Each measurement runs in a fresh subprocess; the rows are the best of `--repeat` runs,
interleaved (one of each kind per round) so that load on the shared machine hits every kind
alike.

    python -m benchmarks.fixed_cost [--repeat 3]   # writes benchmarks/results/fixed_cost.md

Kinds:
- `startup`: python start, then each import (Polars + pyarrow, pandas, Prefect, Great
  Expectations, matplotlib, the daily flow's own modules), the ephemeral server's start;
- `steps`: the daily flow twice in one process on a 3-row CSV against a running server, every
  step of the project timed (wrapped from outside), Prefect's share = wall - steps;
- `cli_cold`: `engage run` on 3 rows from the command line, no server running;
- `cli_server`: `engage run` with a Prefect server already running (PREFECT_API_URL);
- `cli_engage_server`: `engage run` with `engage server start` running (its warm runner).
"""

import argparse
import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUN_DATE = date(2026, 3, 31)
TINY_CSV = (
    "event_id,customer_id,event_type,occurred_at\n"
    "e1,a,login,2026-03-31T10:00:00Z\ne2,b,invite_sent,2026-03-30T10:00:00Z\n"
    "e3,a,login,2026-03-29T10:00:00Z\n"
)
QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "GX_ANALYTICS_ENABLED": "false",
}

# (module, attribute, step): the project's steps, wrapped where the flow looks them up (a
# Prefect task's function is wrapped inside the task: its time excludes Prefect's)
STEPS = (
    ("flows.daily", "run_date_lock", "run-date lock (Prefect API)"),
    ("flows.daily_modes", "new_staging_dir", "staging directory"),
    ("flows.daily_modes", "find_event_files", "find the files"),
    ("flows.daily_modes", "extract_events", "extract"),
    ("flows.daily", "content_run_id", "content run id"),
    ("flows.daily", "validate_events", "input validation"),
    ("tasks.quality.data_docs", "_new_context", "GX context creation"),
    ("tasks.quality.validate", "row_flags", "Polars checks"),
    ("tasks.quality.validate", "run_suite", "GX suites"),
    ("tasks.quality.validate", "failing_row_ids", "GX failing rows"),
    ("flows.daily_modes", "score_customers", "score"),
    ("flows.daily_modes", "compute_metrics", "metric panel"),
    ("flows.daily", "track_followups", "follow-ups"),
    ("flows.daily", "validate_outputs", "output validation and Data Docs"),
    ("tasks.quality.validate", "staged_table_outcomes", "output contracts"),
    ("tasks.quality.validate", "validate_output_tables", "output contracts"),
    ("tasks.quality.validate", "build_data_docs", "Data Docs"),
    ("flows.daily", "write_run_report", "run report"),
    ("flows.daily", "write_manifest", "manifest"),
    ("flows.daily", "publish_outputs", "publish"),
    ("flows.daily", "publish_run_artifacts", "artifacts"),
    ("flows.daily", "report_data_quality", "data-quality artifact"),
    ("flows.daily", "emit_run_event", "run event"),
)
NESTED = {
    "GX context creation",
    "Polars checks",
    "GX suites",
    "GX failing rows",
    "output contracts",
    "Data Docs",
}
"""Steps timed inside another step (validation): reported, not added to the total."""


def _timed(function: Callable[..., Any], step: str, spent: dict[str, float]) -> Any:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[step] = spent.get(step, 0.0) + time.perf_counter() - started

    return wrapper


def _timed_context(function: Callable[..., Any], step: str, spent: dict[str, float]) -> Any:
    @contextlib.contextmanager
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[None]:
        started = time.perf_counter()
        with function(*args, **kwargs):
            spent[step] = spent.get(step, 0.0) + time.perf_counter() - started
            yield

    return wrapper


def instrument(spent: dict[str, float]) -> None:
    """Wrap every step of STEPS that exists in this checkout."""
    import importlib

    from prefect import Task

    for module_name, attribute, step in STEPS:
        module = importlib.import_module(module_name)
        function = getattr(module, attribute, None)
        if function is None:
            continue
        if isinstance(function, Task):
            function.fn = _timed(function.fn, step, spent)
        elif attribute == "run_date_lock":
            setattr(module, attribute, _timed_context(function, step, spent))
        else:
            setattr(module, attribute, _timed(function, step, spent))


def measure_startup(work: Path) -> dict[str, Any]:
    """Imports one after the other, then a Prefect server's start (what ephemeral mode runs:
    uvicorn with the API), from a process that imported everything."""
    timings: dict[str, float] = {}
    imports = (
        ("import polars + pyarrow", "import polars, pyarrow.parquet"),
        ("import pandas", "import pandas"),
        ("import prefect", "import prefect, prefect.flows"),
        ("import great_expectations", "import great_expectations"),
        ("import matplotlib", "import matplotlib.figure"),
        ("import the project's flow modules", "import flows.daily"),
        (
            "import Prefect's server (ephemeral mode)",
            "import prefect.server.api.server",
        ),
    )
    for label, statement in imports:
        started = time.perf_counter()
        exec(statement, {})
        timings[label] = time.perf_counter() - started
    timings["start a Prefect server (ephemeral mode's)"] = server_start_seconds()
    return {"seconds": sum(timings.values()), "steps": timings}


def server_start_seconds() -> float:
    """Seconds from spawning Prefect's ephemeral-mode server to its first healthy answer."""
    import urllib.request

    from deployments.local_stack import free_port

    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "on"]
    environment = os.environ | {"PREFECT__SERVER_EPHEMERAL": "1", "PREFECT_UI_ENABLED": "0"}
    started = time.perf_counter()
    server = subprocess.Popen(command, env=environment, stderr=subprocess.DEVNULL)
    try:
        while True:
            health = f"http://127.0.0.1:{port}/api/health"
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=1):
                return time.perf_counter() - started
            time.sleep(0.05)
    finally:
        server.terminate()
        server.wait()


def measure_steps(work: Path) -> dict[str, Any]:
    """The daily flow twice in this process against a running server: per step (project)
    and the rest (Prefect)."""
    import great_expectations  # noqa: F401
    import prefect  # noqa: F401

    from flows.daily import daily_scoring
    from scoring.config import ScoringConfig

    events = work / "tiny.csv"
    events.write_text(TINY_CSV)
    config = ScoringConfig(weights={"login": 1, "invite_sent": 8})
    runs = []
    for attempt in range(2):
        spent: dict[str, float] = {}
        if attempt == 0:
            instrument(spent)
        else:
            spent = runs[0]["spent_ref"]
            spent.clear()
        started = time.perf_counter()
        daily_scoring(
            events=str(events), config=config, run_date=RUN_DATE, output=str(work / f"o{attempt}")
        )
        wall = time.perf_counter() - started
        project = sum(v for k, v in spent.items() if k not in NESTED)
        runs.append({"wall": wall, "project": project, "steps": dict(spent), "spent_ref": spent})
    for run in runs:
        run.pop("spent_ref")
    empty = _empty_flow_seconds()
    return {"seconds": runs[0]["wall"], "runs": runs, "empty_flow": empty}


def _empty_flow_seconds() -> float:
    from prefect import flow

    @flow
    def nothing() -> None:
        return None

    nothing()  # its first call registers the flow
    started = time.perf_counter()
    nothing()
    return time.perf_counter() - started


def _cli(work: Path, env: dict[str, str]) -> float:
    events = work / "tiny.csv"
    events.write_text(TINY_CSV)
    command = [str(Path(sys.executable).parent / "engage"), "run", "--events", str(events)]
    command += ["--config", str(ROOT / "scoring" / "default_config.yaml")]
    command += ["--run-date", RUN_DATE.isoformat(), "--output", str(work / "out")]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"engage run failed:\n{completed.stdout[-2000:]}{completed.stderr}")
    return seconds


PREFECT_HOME_ENV = "FIXED_COST_PREFECT_HOME"
"""The Prefect home every measurement shares: its database is created (migrated) once, before
the measurements, as a user's is after their first run."""


def prefect_home(work: Path) -> str:
    return os.environ.get(PREFECT_HOME_ENV) or str(work / "prefect-home")


def _environment(work: Path, **extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    environment.pop("ENGAGE_SERVER_HOME", None)
    environment |= QUIET | {"PREFECT_HOME": prefect_home(work)} | extra
    return environment


def measure_cli_mistake(work: Path) -> dict[str, Any]:
    """`engage run` on an events path that does not exist: the time to its error (exit 2)."""
    command = [str(Path(sys.executable).parent / "engage"), "run", "--events", str(work / "no.csv")]
    command += [
        "--config",
        str(ROOT / "scoring" / "default_config.yaml"),
        "--run-date",
        "2026-03-31",
    ]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, env=_environment(work), check=False)
    return {"seconds": time.perf_counter() - started, "status": completed.returncode}


def measure_cli_cold(work: Path) -> dict[str, Any]:
    """`engage run` on 3 rows, nothing running (the ephemeral server starts with it)."""
    environment = _environment(work, ENGAGE_SERVER_HOME=str(work / "no-engage-server"))
    return {"seconds": _cli(work, environment)}


def measure_cli_server(work: Path, api_url: str) -> dict[str, Any]:
    """`engage run` on 3 rows against a Prefect server already running."""
    environment = _environment(
        work, PREFECT_API_URL=api_url, ENGAGE_SERVER_HOME=str(work / "no-engage-server")
    )
    return {"seconds": _cli(work, environment)}


def measure_cli_engage_server(work: Path, home: str) -> dict[str, Any]:
    """`engage run` on 3 rows with `engage server start` running (ENGAGE_SERVER_HOME)."""
    return {"seconds": _cli(work, _environment(work, ENGAGE_SERVER_HOME=home))}


def python_start() -> float:
    """Seconds to start and stop a bare interpreter (`python -c pass`)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


# ------------------------------------------------------------------ orchestration (parent)


def child(kind: str, argument: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix=f"fixed-{kind}-") as work:
        os.environ.update(QUIET)
        os.environ["PREFECT_HOME"] = prefect_home(Path(work))
        if kind == "startup":
            result = measure_startup(Path(work))
        elif kind == "steps":
            os.environ["PREFECT_API_URL"] = str(argument)
            result = measure_steps(Path(work))
        elif kind == "cli_cold":
            result = measure_cli_cold(Path(work))
        elif kind == "cli_mistake":
            result = measure_cli_mistake(Path(work))
        elif kind == "cli_server":
            result = measure_cli_server(Path(work), str(argument))
        else:
            result = measure_cli_engage_server(Path(work), str(argument))
    print(json.dumps(result))


def run_child(kind: str, argument: str | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.fixed_cost", "measure", kind]
    command += [argument] if argument else []
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"measurement {kind} failed:\n{completed.stderr[-3000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


@contextlib.contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """A Prefect server (SQLite) on a free port for the measurements that need one."""
    from deployments.local_stack import PrefectServer, free_port

    server = PrefectServer(home, free_port(), None).start()
    try:
        yield server.api_url
    finally:
        server.stop()


@contextlib.contextmanager
def engage_server(home: Path) -> Iterator[str | None]:
    """`engage server start` under `home` (None in a checkout without the command)."""
    engage = str(Path(sys.executable).parent / "engage")
    environment = _environment(home, ENGAGE_SERVER_HOME=str(home))
    started = subprocess.run(
        [engage, "server", "start"], env=environment, capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        yield None
        return
    try:
        yield str(home)
    finally:
        subprocess.run([engage, "server", "stop"], env=environment, check=False)


def best(results: list[dict[str, Any]]) -> dict[str, Any]:
    return min(results, key=lambda r: r["seconds"])


def measure(repeat: int) -> dict[str, Any]:
    """Every kind `repeat` times, interleaved; the fastest of each is kept."""
    collected: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="fixed-cost-") as home:
        os.environ[PREFECT_HOME_ENV] = os.environ["PREFECT_HOME"] = str(Path(home) / "prefect")
        server_start_seconds()  # creates and migrates the shared database: not measured
        measure_rounds(Path(home), repeat, collected)
    results = {kind: best(runs) for kind, runs in collected.items()}
    for kind, runs in collected.items():
        results[kind]["all_seconds"] = [round(r["seconds"], 2) for r in runs]
    results["load_average"] = os.getloadavg()
    return results


def measure_rounds(home: Path, repeat: int, collected: dict[str, list[dict[str, Any]]]) -> None:
    """`repeat` rounds of every kind, one of each per round."""
    with (
        prefect_server(home / "server") as api_url,
        engage_server(home / "engage-server") as engage_home,
    ):
        for _ in range(repeat):
            collected.setdefault("python_start", []).append({"seconds": python_start()})
            collected.setdefault("startup", []).append(run_child("startup"))
            collected.setdefault("steps", []).append(run_child("steps", api_url))
            collected.setdefault("cli_server", []).append(run_child("cli_server", api_url))
            if engage_home:
                collected.setdefault("cli_engage_server", []).append(
                    run_child("cli_engage_server", engage_home)
                )
            collected.setdefault("cli_cold", []).append(run_child("cli_cold"))
            collected.setdefault("cli_mistake", []).append(run_child("cli_mistake"))


def report(results: dict[str, Any]) -> str:
    """The step table as Markdown."""
    startup, steps = results["startup"]["steps"], results["steps"]["runs"]
    first, second = steps
    lines = [
        f"Load average {results['load_average'][0]:.1f}; best of "
        f"{len(results['startup']['all_seconds'])} interleaved runs.",
        "",
        "| step | seconds |",
        "|---|---:|",
        f"| python start | {results['python_start']['seconds']:.2f} |",
        *[f"| {label} | {seconds:.2f} |" for label, seconds in startup.items()],
        f"| **daily flow, first run in the process** (server running) | **{first['wall']:.2f}** |",
        *[
            f"| &nbsp;&nbsp;{step}{' (inside validation)' if step in NESTED else ''} | "
            f"{seconds:.3f} |"
            for step, seconds in first["steps"].items()
        ],
        f"| &nbsp;&nbsp;project's steps, total | {first['project']:.2f} |",
        f"| &nbsp;&nbsp;Prefect (wall - steps) | {first['wall'] - first['project']:.2f} |",
        f"| daily flow, second run in the process | {second['wall']:.2f} |",
        f"| &nbsp;&nbsp;project's steps, total | {second['project']:.2f} |",
        f"| &nbsp;&nbsp;Prefect (wall - steps) | {second['wall'] - second['project']:.2f} |",
        f"| an empty flow, steady state | {results['steps']['empty_flow']:.2f} |",
        f"| **`engage run`, cold** (ephemeral server) | **{results['cli_cold']['seconds']:.2f}** |",
        f"| **`engage run`, Prefect server running** (PREFECT_API_URL) | "
        f"**{results['cli_server']['seconds']:.2f}** |",
    ]
    if "cli_engage_server" in results:
        lines.append(
            "| **`engage run`, `engage server` running** | "
            f"**{results['cli_engage_server']['seconds']:.2f}** |"
        )
    mistake = results["cli_mistake"]["seconds"]
    lines.append(f"| `engage run` on a missing file, to its error | {mistake:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["measure"]:
        child(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    options = parser.parse_args()
    outcome = measure(options.repeat)
    options.results.mkdir(parents=True, exist_ok=True)
    (options.results / "fixed_cost.json").write_text(json.dumps(outcome, indent=1) + "\n")
    table = report(outcome)
    (options.results / "fixed_cost.md").write_text(table + "\n")
    print(table)
    print(f"\nresults: {options.results}/fixed_cost.md (docs/performance.md shows it)")
