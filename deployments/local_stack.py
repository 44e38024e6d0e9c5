"""A local Prefect stack: PostgreSQL (when its binaries are installed, else SQLite), a Prefect
server, and a serve process with the deployments. `make server` runs it until Ctrl-C; the
end-to-end tests start the same stack on free ports.

    python -m deployments.local_stack [--port 4200] [--home .prefect-server] [--sqlite]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, Self

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Children run in their own sessions: Ctrl-C reaches only this process, which then stops them
# in order (serve, server, database).
POSTGRES_BINARIES = Path("/usr/lib/postgresql")
DEFAULT_PORT = 4200


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server binaries (Debian layout), if any."""
    candidates = sorted(
        POSTGRES_BINARIES.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    return candidates[-1].parent if candidates else None


def wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path | None) -> None:
    """Poll `check` every 0.5 s until it is true; fail after `timeout` s naming `what`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s; log {log}:\n{tail}")
        time.sleep(0.5)


def _default_sigint() -> None:
    # a shell starting us in the background ignores SIGINT, and children inherit that: the
    # serve process must take SIGINT, its clean shutdown
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop(process: subprocess.Popen[bytes], first: signal.Signals, timeout: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(first)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


class LocalPostgres:
    """A throwaway PostgreSQL cluster in `directory` on 127.0.0.1:`port`, trust auth.

    initdb refuses to run as root: as root the cluster belongs to (and runs as) `postgres`.
    """

    def __init__(self, directory: Path, port: int, bin_dir: Path) -> None:
        self.directory, self.port, self.bin_dir = directory, port, bin_dir
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        self.temporary = False

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/prefect"

    def _run(self, *command: str) -> None:
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*as_user, *command], capture_output=True, text=True, timeout=120,
            start_new_session=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}"
            )

    def _usable_directory(self) -> None:
        """As root, the cluster directory must be reachable by `postgres`; a private parent
        (pytest's tmp dirs are 0700) moves the cluster to a fresh directory under /tmp."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        shutil.chown(self.directory, "postgres", "postgres")
        probe = ["runuser", "-u", "postgres", "--", "test", "-w", str(self.directory)]
        if subprocess.run(probe, capture_output=True, timeout=60).returncode != 0:
            self.directory = Path(tempfile.mkdtemp(prefix="engage-postgres-"))
            self.temporary = True
            shutil.chown(self.directory, "postgres", "postgres")
            self.data = self.directory / "data"
            self.log = self.directory / "postgres.log"

    def start(self) -> Self:
        self._usable_directory()
        if not (self.data / "PG_VERSION").exists():
            self._run(
                str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres",
                "--auth=trust", "-E", "UTF8", "--no-sync",
            )  # fmt: skip
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        probe = subprocess.run(
            [str(self.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
             "postgres", "-tAc", "select 1 from pg_database where datname = 'prefect'"],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        if probe.stdout.strip() != "1":
            subprocess.run(
                [str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                 "-U", "postgres", "prefect"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
        if self.temporary:
            shutil.rmtree(self.directory, ignore_errors=True)


class PrefectServer:
    """`prefect server start` on 127.0.0.1:`port`, its state under `home`."""

    def __init__(self, home: Path, port: int, database_url: str | None) -> None:
        self.home, self.port, self.database_url = home, port, database_url
        self.log = home / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def start(self, timeout: float = 180) -> Self:
        self.home.mkdir(parents=True, exist_ok=True)
        environment = os.environ | {
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_URL": self.api_url,
            "PREFECT_UI_API_URL": self.api_url,
        }
        if self.database_url:
            environment["PREFECT_API_DATABASE_CONNECTION_URL"] = self.database_url
        else:
            environment.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                   "--port", str(self.port)]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=environment, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        wait_until(self._alive_and_healthy, timeout, f"Prefect server on {self.url}", self.log)
        return self

    def _alive_and_healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited; see {self.log}")
        return self.healthy()

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGTERM, 30)


def api_get(api_url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{api_url}{path}", timeout=10) as response:
        return json.loads(response.read())


def api_post(api_url: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{api_url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class ServeProcess:
    """`python -m deployments.serve` against a server, from the repository root."""

    def __init__(
        self,
        api_url: str,
        log: Path,
        environment: dict[str, str] | None = None,
        inactive_schedules: bool = False,
    ) -> None:
        self.api_url, self.log = api_url, log
        self.environment = environment or {}
        self.inactive_schedules = inactive_schedules
        self.process: subprocess.Popen[bytes] | None = None

    def registered(self, names: Iterable[str]) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the serve process exited; see {self.log}")
        try:
            deployments = api_post(self.api_url, "/deployments/filter", {})
        except (OSError, urllib.error.URLError):
            return False
        return set(names) <= {d["name"] for d in deployments}

    def start(self, names: Iterable[str] = ("daily", "backfill"), timeout: float = 180) -> Self:
        environment = os.environ | self.environment | {"PREFECT_API_URL": self.api_url}
        environment.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        # each run's subprocess imports Prefect, Polars and GX: allow for a slow machine
        environment.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "2")
        command = [sys.executable, "-m", "deployments.serve"]
        if self.inactive_schedules:
            command.append("--inactive-schedules")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=environment, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=_default_sigint,
            )  # fmt: skip
        wait_until(lambda: self.registered(names), timeout, "the served deployments", self.log)
        return self

    def stop(self) -> None:
        # SIGINT first: the runner shuts down cleanly (a server stopped first makes it hang)
        if self.process is not None:
            _stop(self.process, signal.SIGINT, 60)


class OutputFiles:
    """`python -m http.server` over the output directory: the run artifacts link the run
    reports there (ENGAGE_OUTPUT_URL), since a browser opens no file:// link from a page."""

    def __init__(self, directory: Path, port: int, log: Path) -> None:
        self.directory, self.port, self.log = directory, port, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serving(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def start(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory",
                   str(self.directory), str(self.port)]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        wait_until(self.serving, 60, f"the output files on {self.url}", self.log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGTERM, 10)


class LocalStack:
    """PostgreSQL (optional), a Prefect server, the output files over http and a serve
    process; stopped in reverse order."""

    def __init__(
        self,
        home: Path,
        port: int = DEFAULT_PORT,
        use_postgres: bool = True,
        serve_environment: dict[str, str] | None = None,
        inactive_schedules: bool = False,
    ) -> None:
        self.home = home.resolve()
        bin_dir = postgres_bin_dir() if use_postgres else None
        self.postgres = (
            LocalPostgres(self.home / "postgres", free_port(), bin_dir) if bin_dir else None
        )
        self.server = PrefectServer(self.home, port, self.postgres.url if self.postgres else None)
        environment = serve_environment or {}
        output = Path(environment.get("ENGAGE_OUTPUT") or os.environ.get("ENGAGE_OUTPUT", "output"))
        self.files = OutputFiles(PROJECT_ROOT / output, free_port(), self.home / "files.log")
        self.serve = ServeProcess(
            self.server.api_url,
            self.home / "serve.log",
            {"ENGAGE_OUTPUT_URL": self.files.url} | environment,
            inactive_schedules,
        )
        self._stack = ExitStack()

    @property
    def database(self) -> str:
        return "PostgreSQL" if self.postgres else "SQLite"

    def __enter__(self) -> Self:
        with ExitStack() as starting:
            if self.postgres:
                starting.callback(self.postgres.start().stop)
            starting.callback(self.server.start().stop)
            starting.callback(self.files.start().stop)
            starting.callback(self.serve.start().stop)
            self._stack = starting.pop_all()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--home", type=Path, default=PROJECT_ROOT / ".prefect-server")
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if PostgreSQL exists")
    arguments = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    stack = LocalStack(arguments.home, arguments.port, use_postgres=not arguments.sqlite)
    print(f"starting Prefect on {stack.database} under {stack.home} ...", flush=True)
    with stack:
        print(
            f"Prefect UI: {stack.server.url}  (deployments: daily, backfill; logs in "
            f"{stack.home})\nrun reports and outputs: {stack.files.url}\n"
            f"set PREFECT_API_URL={stack.server.api_url} to use it from a shell; Ctrl-C stops "
            "everything",
            flush=True,
        )
        try:
            while stack.server.process and stack.server.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            print("stopping ...", flush=True)


if __name__ == "__main__":
    main()
