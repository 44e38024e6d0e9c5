"""The local Prefect stack, one harness for `make server` and the tests: a free port, a
throw-away PostgreSQL cluster, a Prefect server and a serve process with the deployments.

    python -m deployments.local_stack [--port 4200] [--home .prefect-server] [--sqlite]

Facts it follows (HOUSE_STYLE.md): PostgreSQL runs from Debian's binaries and initdb refuses
root, so as root the cluster belongs to (and runs as) the `postgres` user; a Prefect server
takes 8-16 s to start on two cores; the serve process is stopped (SIGINT) before the server,
or it hangs, and runs from the project root (entrypoints are relative to it).
"""

import argparse
import json
import os
import secrets
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
from typing import Any, Self, TypeVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_BINARIES = Path("/usr/lib/postgresql")
DEFAULT_PORT = 4200

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_binaries() -> Path | None:
    """The newest installed PostgreSQL server binaries (Debian layout), if any."""
    candidates = sorted(
        POSTGRES_BINARIES.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    return candidates[-1].parent if candidates else None


def wait_until(
    check: Callable[[], T], timeout: float, what: str, log: Path | None = None, every: float = 0.5
) -> T:
    """Poll `check` until it returns something truthy (returned); fail after `timeout` s naming
    `what` and showing the end of `log`."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s; log {log}:\n{tail}")
        time.sleep(every)
    return result


def _default_sigint() -> None:
    # a shell starting us in the background ignores SIGINT, and children inherit that: the
    # serve process must take SIGINT, its clean shutdown
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_process(process: subprocess.Popen[bytes], first: signal.Signals, timeout: float) -> None:
    """Send `first`, then kill after `timeout` s."""
    if process.poll() is not None:
        return
    process.send_signal(first)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


class LocalPostgres:
    """A PostgreSQL cluster on 127.0.0.1:`port` (a free one by default) in `directory` (a fresh
    temporary one, removed on stop, by default): user `engage` with a password, no fsync.

    A cluster in a kept directory (`make server`'s) keeps its password there and is reused.
    """

    USER = "engage"

    def __init__(self, directory: Path | None = None, port: int | None = None) -> None:
        binaries = postgres_binaries()
        if binaries is None:
            raise RuntimeError(
                "PostgreSQL server binaries not found: run `make system-deps-postgresql`"
            )
        self.binaries = binaries
        self.port = port or free_port()
        self.temporary = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="engage-postgres-"))

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    @property
    def password(self) -> str:
        return (self.directory / "password").read_text().strip()

    def uri(self, database: str = "postgres", driver: str = "postgresql") -> str:
        """The connection URI of `database`, password included."""
        return f"{driver}://{self.USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, *command: str) -> None:
        """Run a server command (initdb, pg_ctl) as the cluster's owner."""
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*as_postgres, *command], capture_output=True, text=True, timeout=120,
            start_new_session=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}"
            )

    def _client(self, program: str, *arguments: str) -> str:
        """Run a client program (psql, createdb) over TCP as `engage`; its output."""
        result = subprocess.run(
            [str(self.binaries / program), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", self.USER, *arguments],
            capture_output=True, text=True, check=True, timeout=60,
            env=os.environ | {"PGPASSWORD": self.password},
        )  # fmt: skip
        return result.stdout

    def _owned_directory(self) -> None:
        """As root the directory must belong to `postgres`; a directory it cannot reach (under
        a private parent: pytest's tmp dirs are 0700) moves the cluster to a fresh one."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        shutil.chown(self.directory, "postgres", "postgres")
        probe = ["runuser", "-u", "postgres", "--", "test", "-w", str(self.directory)]
        if subprocess.run(probe, capture_output=True, timeout=60).returncode != 0:
            self.directory = Path(tempfile.mkdtemp(prefix="engage-postgres-"))
            self.temporary = True
            shutil.chown(self.directory, "postgres", "postgres")

    def start(self) -> Self:
        self._owned_directory()
        password_file = self.directory / "password"
        if not (self.data / "PG_VERSION").exists():
            password_file.write_text(secrets.token_urlsafe(18))
            if os.geteuid() == 0:
                shutil.chown(password_file, "postgres", "postgres")
            self._as_owner(
                str(self.binaries / "initdb"), "-D", str(self.data), "-U", self.USER,
                "--auth=scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8", "--no-sync",
            )  # fmt: skip
        elif not password_file.exists():
            raise RuntimeError(
                f"{self.data}: a cluster without its password file (an older `make server` made "
                f"it): delete {self.directory}"
            )
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._as_owner(
            str(self.binaries / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def query(self, database: str, sql: str) -> str:
        """One SQL statement's result through psql, unaligned (`|`-separated, no header)."""
        return self._client("psql", "-d", database, "-tAc", sql)

    def dump(self, database: str) -> str:
        """Every row of `database` as SQL text (pg_dump --data-only)."""
        return self._client("pg_dump", "--data-only", database)

    def create_database(self, name: str) -> str:
        """Create `name` unless it exists; its name."""
        query = f"select 1 from pg_database where datname = '{name}'"
        if self.query("postgres", query).strip() != "1":
            self._client("createdb", name)
        return name

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_owner(
                str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"
            )
        if self.temporary:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class PrefectServer:
    """`prefect server start` on 127.0.0.1:`port`, its state under `home`; on the database at
    `database_url` (SQLite under `home` when None)."""

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
            stop_process(self.process, signal.SIGTERM, 30)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def api_get(api_url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{api_url}{path}", timeout=30) as response:
        return json.loads(response.read())


def api_post(api_url: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{api_url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        content = response.read()
        return json.loads(content) if content else None


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
            stop_process(self.process, signal.SIGINT, 60)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


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
            stop_process(self.process, signal.SIGTERM, 10)


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
        use_postgres = use_postgres and postgres_binaries() is not None
        self.postgres = LocalPostgres(self.home / "postgres") if use_postgres else None
        self.port = port
        environment = serve_environment or {}
        output = Path(environment.get("ENGAGE_OUTPUT") or os.environ.get("ENGAGE_OUTPUT", "output"))
        self.files = OutputFiles(PROJECT_ROOT / output, free_port(), self.home / "files.log")
        self.serve_environment = {"ENGAGE_OUTPUT_URL": self.files.url} | environment
        self.inactive_schedules = inactive_schedules
        self._stack = ExitStack()

    @property
    def database(self) -> str:
        return "PostgreSQL" if self.postgres else "SQLite"

    def __enter__(self) -> Self:
        with ExitStack() as starting:
            database_url = None
            if self.postgres:
                starting.enter_context(self.postgres)
                database = self.postgres.create_database("prefect")
                database_url = self.postgres.uri(database, driver="postgresql+asyncpg")
            self.server = starting.enter_context(PrefectServer(self.home, self.port, database_url))
            starting.callback(self.files.start().stop)
            self.serve = starting.enter_context(
                ServeProcess(
                    self.server.api_url,
                    self.home / "serve.log",
                    self.serve_environment,
                    self.inactive_schedules,
                )
            )
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
