"""A real `engage run` killed (SIGKILL) at every publish step and at random moments: every
output is the old or the new complete version, and the next run recovers on its own. Reruns
give byte-identical Parquet and the same manifest hash, and replace instead of appending.

The reader protocol holds throughout: a reader that waits for the new manifest, then reads the
files it lists, finds each with the sha256 the manifest gives (never a table older than the
manifest), checked by a reader polling while each killed run publishes and after each kill."""

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import yaml
from prefect.settings import PREFECT_API_URL

from flows.daily import daily_scoring
from flows.settings import load_config
from tasks.publish.atomic import FAILPOINT_ENV, FAILPOINTS, recover

RUN_DATE = date(2026, 3, 31)
TABLES = ("scores", "contributions", "quarantine")
ENGAGE = str(Path(sys.executable).parent / "engage")
RANDOM_KILLS = int(os.environ.get("ENGAGE_RANDOM_KILLS", "5"))  # more: ENGAGE_RANDOM_KILLS=50

OLD_EVENTS = """event_id,customer_id,event_type,occurred_at
o1,alice,login,2026-03-30T10:00:00Z
o2,bob,invite_sent,2026-03-29T10:00:00Z
o3,,login,2026-03-29T10:00:00Z
"""
NEW_EVENTS = (
    OLD_EVENTS
    + """n1,carol,login,2026-03-31T23:59:59Z
n2,alice,app_uninstalled,2026-03-31T00:00:00Z
n3,dave,login,not-a-time
"""
)

pytestmark = pytest.mark.usefixtures("prefect_api")


def _partition(output: Path, table: str) -> Path:
    return output / table / f"run_date={RUN_DATE}"


def fingerprint(output: Path) -> dict[str, str | None]:
    """Per table: sha256 of the partition's files (names and bytes); the manifest's hash."""
    found: dict[str, str | None] = {}
    for table in TABLES:
        directory = _partition(output, table)
        if not directory.exists():
            found[table] = None
            continue
        digest = hashlib.sha256()
        for file in sorted(directory.iterdir()):
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
        found[table] = digest.hexdigest()
    manifest = _partition(output, "runs") / "manifest.json"
    found["runs"] = json.loads(manifest.read_text())["manifest_hash"] if manifest.exists() else None
    return found


class Reader:
    """Polls an output like a reader following the protocol, while a run publishes into it."""

    checks = 0  # over the whole module, for the guarantees page

    def __init__(self, output: Path, versions: dict) -> None:
        self.output, self.versions = output, versions
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self.stop.is_set():
            self.check()
            time.sleep(0.002)

    def check(self) -> None:
        """Once the new manifest is there, every file it lists has the sha256 it gives."""
        try:
            manifest = json.loads((_partition(self.output, "runs") / "manifest.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):  # none yet, or swapped while read
            return
        if manifest["manifest_hash"] != self.versions["new"]["runs"]:
            return  # the reader keeps waiting
        for name, described in manifest["outputs"].items():
            try:
                digest = hashlib.sha256((self.output / described["path"]).read_bytes())
            except FileNotFoundError:  # two renames where the file system cannot exchange
                continue
            if digest.hexdigest() != described["sha256"]:
                self.failures.append(f"{name} is older than the manifest")
        Reader.checks += 1

    def __enter__(self) -> "Reader":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()
        self.check()  # and once more on what the kill left
        assert not self.failures, self.failures


def _engage(events: Path, config: Path, output: Path, **env: str) -> subprocess.Popen[bytes]:
    # Killed on purpose: what is under test is the publish step's file lock and journal. With
    # the run date's Prefect lock on, each rerun would wait for the killed run's lease (60 s).
    environment = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "ENGAGE_RUN_DATE_LOCK": "false",
        **env,
    }
    arguments = ["run", "--events", str(events), "--config", str(config)]
    arguments += ["--run-date", RUN_DATE.isoformat(), "--output", str(output)]
    return subprocess.Popen(
        [ENGAGE, *arguments], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _finish(process: subprocess.Popen[bytes]) -> int:
    output, _ = process.communicate(timeout=300)
    if process.returncode not in (0, -signal.SIGKILL):
        pytest.fail(f"engage run failed ({process.returncode}):\n{output.decode()}")
    return process.returncode


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    (root / "old.csv").write_text(OLD_EVENTS)
    (root / "new.csv").write_text(NEW_EVENTS)
    weights = {"login": 1, "invite_sent": 10, "app_uninstalled": -20}
    (root / "config.yaml").write_text(yaml.safe_dump({"weights": weights}))
    return {"old": root / "old.csv", "new": root / "new.csv", "config": root / "config.yaml"}


@pytest.fixture(scope="module")
def versions(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The old and the new complete outputs, made in-process (so also compared across the two
    ways of running: in-process flow and CLI subprocess)."""
    root = tmp_path_factory.mktemp("versions")
    config = load_config(inputs["config"])
    for name in ("old", "new"):
        daily_scoring(
            events=str(inputs[name]), config=config, run_date=RUN_DATE, output=str(root / name)
        )
    return {
        "old_dir": root / "old",
        "old": fingerprint(root / "old"),
        "new": fingerprint(root / "new"),
    }


def test_rerun_is_byte_identical_and_replaces(
    inputs: dict[str, Path], versions: dict, forkserver: "ForkServer", tmp_path: Path
) -> None:
    output = tmp_path / "out"
    # the CLI in a fresh process with one Polars thread (the reference used the default)
    process = _engage(inputs["new"], inputs["config"], output, POLARS_MAX_THREADS="1")
    assert _finish(process) == 0
    assert fingerprint(output) == versions["new"]
    # a rerun into the same output replaces the partition: same files, same bytes
    assert forkserver.wait(forkserver.start(inputs["new"], inputs["config"], output)) == 0
    assert fingerprint(output) == versions["new"]
    assert sorted(p.name for p in _partition(output, "scores").iterdir()) == ["part-0.parquet"]
    manifest = json.loads((_partition(output, "runs") / "manifest.json").read_text())
    assert manifest["outputs"]["scores"]["rows"] == 3  # alice, bob, carol (dave quarantined)
    assert not (output / "_staging").exists()


def _assert_each_table_whole(output: Path, versions: dict, context: str) -> dict[str, str]:
    state = fingerprint(output)
    seen = {}
    for table, digest in state.items():
        if digest == versions["old"][table]:
            seen[table] = "old"
        elif digest == versions["new"][table]:
            seen[table] = "new"
        else:
            pytest.fail(f"{context}: {table} is neither the old nor the new version: {digest}")
    return seen


class ForkServer:
    """Real `engage run` processes forked from one warm parent (tests/flows/engage_forkserver)."""

    def __init__(self, logs: Path) -> None:
        # runs are killed on purpose: no run date lock (see _engage)
        environment = {
            **os.environ,
            "PREFECT_API_URL": PREFECT_API_URL.value(),
            "ENGAGE_RUN_DATE_LOCK": "false",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.flows.engage_forkserver"],
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        self.logs = logs
        self.runs = 0

    def _ask(self, line: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            pytest.fail(f"fork server died ({self.process.poll()})")
        return answer.split()[1]

    def start(self, events: Path, config: Path, output: Path, **env: str) -> int:
        self.runs += 1
        arguments = ["run", "--events", str(events), "--config", str(config)]
        arguments += ["--run-date", RUN_DATE.isoformat(), "--output", str(output)]
        log = self.logs / f"run-{self.runs}.log"
        request = {"args": arguments, "env": env, "log": str(log)}
        self.last_log = log
        return int(self._ask("run " + json.dumps(request)))

    def wait(self, pid: int) -> int:
        status = int(self._ask(f"wait {pid}"))
        if status not in (0, -signal.SIGKILL):
            pytest.fail(f"engage run failed ({status}):\n{self.last_log.read_text()}")
        return status

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.process.stdout.close()


@pytest.fixture(scope="module")
def forkserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path_factory.mktemp("logs"))
    yield server
    server.close()


def _check_recovery(
    forkserver: ForkServer,
    output: Path,
    inputs: dict[str, Path],
    versions: dict,
    context: str,
    rerun: bool,
) -> str:
    """After a kill: each partition whole; then the next run (or `recover`) makes every table
    the same version and leaves no staging behind."""
    _assert_each_table_whole(output, versions, context)
    with Reader(output, versions):  # and while the next run (or `recover`) finishes it
        return _recover(forkserver, output, inputs, versions, context, rerun)


def _recover(
    forkserver: ForkServer,
    output: Path,
    inputs: dict[str, Path],
    versions: dict,
    context: str,
    rerun: bool,
) -> str:
    if rerun:
        pid = forkserver.start(inputs["new"], inputs["config"], output)
        assert forkserver.wait(pid) == 0, context
        assert fingerprint(output) == versions["new"], context
        assert not (output / "_staging").exists(), context
        return "new"
    recover(output)
    seen = _assert_each_table_whole(output, versions, context)
    assert len(set(seen.values())) == 1, f"{context}: tables from different runs {seen}"
    assert not (output / "_staging").exists(), context
    return next(iter(seen.values()))


def _old_output(versions: dict, root: Path) -> Path:
    output = root / "out"
    shutil.copytree(versions["old_dir"], output)
    return output


@pytest.mark.parametrize("step", FAILPOINTS)
def test_sigkill_at_each_publish_step(
    step: str, forkserver: ForkServer, inputs: dict[str, Path], versions: dict, tmp_path: Path
) -> None:
    output = _old_output(versions, tmp_path)
    with Reader(output, versions):
        pid = forkserver.start(inputs["new"], inputs["config"], output, **{FAILPOINT_ENV: step})
        assert forkserver.wait(pid) == -signal.SIGKILL
    rerun = step in ("publish:journal-temporary", "publish:swapped-first")
    outcome = _check_recovery(forkserver, output, inputs, versions, step, rerun)
    committed = FAILPOINTS.index(step) >= FAILPOINTS.index("publish:journal-committed")
    assert outcome == ("new" if committed or rerun else "old"), step


def test_sigkill_at_random_moments(
    forkserver: ForkServer, inputs: dict[str, Path], versions: dict, tmp_path: Path
) -> None:
    seed = int(os.environ.get("ENGAGE_KILL_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    # how long a run takes from creating its staging to exiting, to aim the kills
    probe = _old_output(versions, tmp_path / "probe")
    pid = forkserver.start(inputs["new"], inputs["config"], probe)
    staged_at = _wait_for_staging(pid, probe)
    forkserver.wait(pid)
    duration = time.monotonic() - staged_at
    outcomes = []
    for iteration in range(RANDOM_KILLS):
        output = _old_output(versions, tmp_path / str(iteration))
        with Reader(output, versions):
            pid = forkserver.start(inputs["new"], inputs["config"], output)
            _wait_for_staging(pid, output)
            delay = rng.uniform(0, duration)
            time.sleep(delay)
            os.kill(pid, signal.SIGKILL)
            status = forkserver.wait(pid)
        context = f"seed {seed}, iteration {iteration}, kill after {delay:.3f}s ({status})"
        rerun = iteration % 2 == 1
        outcomes.append(_check_recovery(forkserver, output, inputs, versions, context, rerun))
    print(f"random kills (seed {seed}, run ~{duration:.2f}s after staging): {outcomes}")
    print(f"reader checks so far: {Reader.checks}")


def _wait_for_staging(pid: int, output: Path) -> float:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        staging = output / "_staging"
        if staging.exists() and any(staging.iterdir()):
            return time.monotonic()
        if _finished(pid):
            break
        time.sleep(0.005)
    return time.monotonic()


def _finished(pid: int) -> bool:
    """A child of the fork server has exited (a zombie until the server reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
