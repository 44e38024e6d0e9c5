"""A real Prefect server for tests that need one (events, automations, `serve`): started as
`prefect server start` on a free loopback port with SQLite in a temporary PREFECT_HOME.

Verified facts it follows (HOUSE_STYLE.md): startup takes 8-16 s on two cores (wait up to
120 s); analytics off; a SQLite server under polling answers 503 now and then (keep
PREFECT_RUNNER_POLL_FREQUENCY >= 2 and retry); stop `serve` (SIGINT) before the server.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 120.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_environment(api_url: str, home: Path) -> dict[str, str]:
    """Environment for a process that talks to the server (CLI runs, `serve`)."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")
    }
    environment.update(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_RUNNER_POLL_FREQUENCY="2",
        PREFECT_LOGGING_LEVEL="INFO",
        GX_ANALYTICS_ENABLED="false",
    )
    return environment


def api(api_url: str, method: str, path: str, body: Any = None, attempts: int = 10) -> Any:
    """One API call; retries the 503s (`database is locked`) of a busy SQLite server."""
    for attempt in range(attempts):
        try:
            response = httpx.request(method, f"{api_url}{path}", json=body, timeout=30)
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
        else:
            if response.status_code != 503:
                response.raise_for_status()
                return response.json() if response.content else None
        time.sleep(0.5 * (attempt + 1))
    raise AssertionError(f"{method} {path}: still 503 after {attempts} attempts")


def wait_until(check: Any, timeout_s: float, what: str, interval_s: float = 1.0) -> Any:
    """Poll `check()` until it returns something truthy; fail naming `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def stop(process: subprocess.Popen[bytes], first_signal: int = signal.SIGINT) -> None:
    """Stop a child process gracefully (signal, then kill after 30 s)."""
    if process.poll() is None:
        process.send_signal(first_signal)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """Start a Prefect server; yields its API URL (`http://127.0.0.1:<port>/api`)."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    environment = client_environment(api_url, home)
    del environment["PREFECT_API_URL"]
    environment.update(
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'server.db'}",
        PREFECT_SERVER_UI_ENABLED="false",
    )
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(
                f"prefect server exited ({process.returncode}): "
                + (home / "server.log").read_text()[-3000:]
            )
        try:
            return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(healthy, STARTUP_TIMEOUT_S, f"the Prefect server on port {port}")
        yield api_url
    finally:
        stop(process, signal.SIGTERM)
        log.close()


@contextmanager
def serving(module: str, api_url: str, home: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python -m <module>` (a script that calls `serve`) from the project root against
    the server; stopped with SIGINT on exit (before the server is)."""
    log = (home / f"{module}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        env=client_environment(api_url, home),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=PROJECT_ROOT,
    )
    try:
        yield process
    finally:
        stop(process, signal.SIGINT)
        log.close()
