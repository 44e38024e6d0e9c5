"""Prefect for the command line, without paying for it on every command.

- `engage server start` leaves two processes running in the background: a Prefect server
  (SQLite under ENGAGE_SERVER_HOME, default ~/.engage/server; or the server PREFECT_API_URL
  names) and a warm runner, a process that has imported Prefect, Great Expectations, Polars
  and the flows once. Every later `engage run` (backfill, backtest, demo) is handed to the
  runner, which forks a child that runs the command in the caller's working directory, with
  the caller's environment and terminal (its stdin, stdout and stderr, passed over a Unix
  socket), and sends back the exit status. `engage server stop` stops both.
- Without it, a command that runs a flow starts a temporary Prefect server (the one Prefect's
  ephemeral mode starts) in the background right after its pre-flight checks, imports its
  flows meanwhile, and stops the server when it ends.

The runner's Prefect settings are those it started with (its server); the ENGAGE_* variables
are the caller's. It serves the code it imported: a command finds it changed (the files' times
and sizes) and runs in its own process instead, saying so.
"""

import atexit
import contextlib
import hashlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("flows", "tasks", "scoring", "demo")
STATE_FILE = "state.json"
SOCKET_FILE = "runner.sock"
STARTUP_SECONDS = 180.0
RUN_MODULES = (
    "great_expectations",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.concurrency.sync",
)
"""What a flow's first run imports (lazily: not every command needs them)."""
WARM_MODULES = ("flows.daily", "flows.backfill", "flows.backtest", *RUN_MODULES)
"""What the runner imports once: the flows and what their first run imports (each forked
child starts with them)."""
"""How long a server or runner may take to start on a busy two-core machine."""


def server_home() -> Path:
    """Where `engage server` keeps its state, logs and Prefect database."""
    return Path(os.environ.get("ENGAGE_SERVER_HOME") or Path.home() / ".engage" / "server")


def code_fingerprint() -> str:
    """The project's source files' paths, times and sizes, hashed: a runner that imported other
    code must not run this code's commands."""
    digest = hashlib.sha256()
    for source in SOURCES:
        for path in sorted((PROJECT_ROOT / source).rglob("*")):
            if path.suffix in (".py", ".html", ".yaml"):
                status = path.stat()
                digest.update(f"{path}:{status.st_mtime_ns}:{status.st_size};".encode())
    return digest.hexdigest()


def healthy(api_url: str, timeout: float = 2) -> bool:
    """Whether the Prefect API answers its health check."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(
    ready: Callable[[], bool], what: str, process: "subprocess.Popen[bytes]", log: Path
) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} did not start; its log {log} ends:\n{tail}")
        time.sleep(0.1)


# ------------------------------------------------------------------ a temporary server (cold)


class TemporaryServer:
    """The Prefect server Prefect's ephemeral mode would start (uvicorn with the API, no UI),
    started in the background so that the command imports its flows meanwhile."""

    def __init__(self) -> None:
        port = str(free_port())
        self.api_url = f"http://127.0.0.1:{port}/api"
        environment = os.environ | {"PREFECT__SERVER_EPHEMERAL": "1", "PREFECT_UI_ENABLED": "0"}
        command = [sys.executable, "-m", "uvicorn", "--factory"]
        command += ["prefect.server.api.server:create_app", "--host", "127.0.0.1"]
        command += ["--port", port, "--log-level", "error", "--lifespan", "on"]
        self.process = subprocess.Popen(
            command, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        atexit.register(self.stop)

    def wait(self) -> None:
        """Import what the flow's run will import anyway (RUN_MODULES), then wait until the
        server answers: both while it starts."""
        for module in RUN_MODULES:
            importlib.import_module(module)
        deadline = time.monotonic() + float(
            os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", STARTUP_SECONDS)
        )
        while not healthy(self.api_url, timeout=1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the temporary Prefect server on {self.api_url} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def environment_variable(name: str, value: str | None) -> Iterator[None]:
    """The block runs with the environment variable `name` set to `value` (unset if None); its
    earlier value (or absence) is restored after."""
    earlier = os.environ.pop(name, None)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
        if earlier is not None:
            os.environ[name] = earlier


@contextlib.contextmanager
def prefect_api() -> Iterator[TemporaryServer | None]:
    """A Prefect API for the flows run inside: the one configured (PREFECT_API_URL or a
    profile), the running `engage server`'s, or a temporary server (yielded: wait for it
    before running a flow; stopped on leaving). The temporary server is started before Prefect
    is even imported (its import takes a second) and stopped at once if a profile names an
    API; it starts while the command imports its flows."""
    state = running_state()
    configured = os.environ.get("PREFECT_API_URL")
    server = TemporaryServer() if state is None and not configured else None
    try:
        from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

        if get_current_settings().api.url:
            if server is not None:
                server.stop()
            yield None
            return
        api_url = state.api_url if server is None else server.api_url  # type: ignore[union-attr]
        # the environment too: for processes the flows start (Dask workers)
        with (
            environment_variable("PREFECT_API_URL", api_url),
            temporary_settings({PREFECT_API_URL: api_url}),
        ):
            try:
                yield server
            finally:
                send_queued_logs()
    finally:
        if server is not None:
            server.stop()


def send_queued_logs() -> None:
    """Send the run logs still queued for the API while it answers: a failed run's last
    records, sent at exit to a temporary server already stopped, printed `--- Error logging
    to API ---` under the command's one-line error."""
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)


# ------------------------------------------------------------------ `engage server` (warm)


@dataclass(frozen=True)
class ServerState:
    """What `engage server start` left running."""

    api_url: str
    server_pid: int | None  # None: a server it did not start (PREFECT_API_URL)
    runner_pid: int
    socket: str
    fingerprint: str


def _state_path(home: Path) -> Path:
    return home / STATE_FILE


def read_state(home: Path | None = None) -> ServerState | None:
    """The recorded state of `engage server`, if any."""
    try:
        return ServerState(**json.loads(_state_path(home or server_home()).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_state(home: Path | None = None) -> ServerState | None:
    """The state of a running `engage server` (its processes alive), or None."""
    state = read_state(home)
    if state is None or not (_alive(state.server_pid) and _alive(state.runner_pid)):
        return None
    return state


def _detached(
    command: list[str], environment: dict[str, str], log: Path
) -> "subprocess.Popen[bytes]":
    with log.open("ab") as stream:
        return subprocess.Popen(
            command, env=environment, stdin=subprocess.DEVNULL, stdout=stream,
            stderr=subprocess.STDOUT, start_new_session=True, cwd=PROJECT_ROOT,
        )  # fmt: skip


def answers(path: Path | str) -> bool:
    """Whether a runner listens on the socket at `path` (it answers a ping)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as probe:
        probe.settimeout(5)
        try:
            probe.connect(str(path))
            probe.send(json.dumps({"ping": True}).encode())
            return bool(json.loads(probe.recv(4096)).get("pong"))
        except (OSError, ValueError):
            return False


def start(home: Path | None = None) -> ServerState:
    """Start the Prefect server (unless PREFECT_API_URL names one) and the warm runner in the
    background; returns what runs. A running `engage server` is returned as it is."""
    home = home or server_home()
    if (state := running_state(home)) is not None:
        return state
    home.mkdir(parents=True, exist_ok=True)
    environment = os.environ | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    api_url, server = os.environ.get("PREFECT_API_URL"), None
    if not api_url:
        port = free_port()
        api_url = f"http://127.0.0.1:{port}/api"
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        server = _detached(
            [*command, "--port", str(port)],
            environment | {"PREFECT_HOME": str(home / "prefect"), "PREFECT_API_URL": api_url},
            home / "server.log",
        )
    path = home / SOCKET_FILE
    path.unlink(missing_ok=True)
    runner = _detached(
        [sys.executable, "-m", "flows.engage_runner", str(path)],
        environment | {"PREFECT_API_URL": api_url},
        home / "runner.log",
    )
    try:
        if server is not None:
            _wait(lambda: healthy(str(api_url)), "the Prefect server", server, home / "server.log")
        _wait(lambda: answers(path), "the engage runner", runner, home / "runner.log")
    except BaseException:
        for process in (runner, server):
            if process is not None:
                process.kill()
        raise
    state = ServerState(
        str(api_url), server.pid if server else None, runner.pid, str(path), code_fingerprint()
    )
    _state_path(home).write_text(json.dumps(asdict(state)))
    return state


def stop(home: Path | None = None) -> ServerState | None:
    """Stop what `engage server start` started (the runner, then the server)."""
    home = home or server_home()
    state = read_state(home)
    if state is None:
        return None
    for pid in (state.runner_pid, state.server_pid):
        if pid is not None and _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in (state.runner_pid, state.server_pid) if p) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    _state_path(home).unlink(missing_ok=True)
    Path(state.socket).unlink(missing_ok=True)
    return state


# ------------------------------------------------------------------ the client side


def handed_to_runner(argv: list[str]) -> int | None:
    """Run `engage argv` in the running `engage server`'s runner; its exit status, or None when
    there is no runner to use (none running, another PREFECT_API_URL, or other code)."""
    state = running_state()
    if state is None:
        return None
    configured = os.environ.get("PREFECT_API_URL")
    if configured and configured.rstrip("/") != state.api_url.rstrip("/"):
        return None
    if state.fingerprint != code_fingerprint():
        print(
            "engage server runs older code: this command runs on its own (restart it: "
            "engage server stop && engage server start)",
            file=sys.stderr,
        )
        return None
    request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as connection:
        try:
            connection.connect(state.socket)
        except OSError:
            return None
        sys.stdout.flush()
        sys.stderr.flush()
        socket.send_fds(connection, [json.dumps(request).encode()], [0, 1, 2])
        return _exit_status(connection)


def _exit_status(connection: socket.socket) -> int:
    """Wait for the runner's child to end, forwarding Ctrl-C and SIGTERM to it."""
    child: dict[str, int] = {}

    def forward(signum: int, frame: FrameType | None) -> None:
        if "pid" in child:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child["pid"], signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while message := connection.recv(4096):
            answer = json.loads(message)
            if "pid" in answer:
                child["pid"] = int(answer["pid"])
            if "exit" in answer:
                return int(answer["exit"])
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    print("engage server's runner stopped during the command", file=sys.stderr)
    return 1
