"""Shared fixtures: quiet Prefect settings, the session's real servers (one PostgreSQL, one
Prefect server on it, moto S3) and Chromium, and the markers, derived from those fixtures."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from deployments.local_stack import LocalPostgres, PrefectServer, free_port
from flows.engage_server import ServerState, running_state

if TYPE_CHECKING:
    from tests.servers import EventsApi, Receiver

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# a flow run in a test without the `prefect_api` fixture fails instead of starting a server
os.environ["PREFECT_SERVER_EPHEMERAL_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

MARKER_FIXTURES = {
    "e2e": {"prefect_api"},
    "real_server": {"stack", "engage_server"},
    "servers": {"postgres_uri", "s3_endpoint", "events_api", "webhook_receiver"},
    "browser": {"chromium"},
}
"""A test is marked with every marker one of whose fixtures it uses, directly or not: the
fixtures are the single source of the markers."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in MARKER_FIXTURES.items():
            if used & fixtures:
                item.add_marker(marker)


# ---------------------------------------------------------------- real servers


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """One PostgreSQL cluster for the session: the Prefect server's database and the source
    tests' (Debian binaries; `make test` installs them)."""
    with LocalPostgres() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres_uri(postgres: LocalPostgres) -> str:
    """The source tests' database on the session's PostgreSQL (password in the URI)."""
    return postgres.uri(postgres.create_database("events"))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server for the session; dummy AWS credentials are set meanwhile."""
    from tests.servers import s3_server

    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def prefect_server(
    postgres: LocalPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrefectServer]:
    """One Prefect server for the session, on the session's PostgreSQL."""
    database = postgres.uri(postgres.create_database("prefect"), driver="postgresql+asyncpg")
    with PrefectServer(tmp_path_factory.mktemp("prefect"), free_port(), database) as server:
        yield server


_API_ACTIVE: list[str] = []


@pytest.fixture(scope="session")
def prefect_api(prefect_server: PrefectServer) -> Iterator[str]:
    """Flows run in this process (and the subprocesses given its URL) report to the session's
    Prefect server; yields its API URL. Every test that runs a flow uses this fixture."""
    from prefect.context import _temporary_global_settings_context, get_settings_context
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with ExitStack() as settings:
        settings.enter_context(temporary_settings({PREFECT_API_URL: prefect_server.api_url}))
        # also for threads that start without this context (Prefect's log and event workers)
        settings.enter_context(_temporary_global_settings_context(get_settings_context()))
        _API_ACTIVE.append(prefect_server.api_url)
        yield prefect_server.api_url
        _API_ACTIVE.clear()
        _drain_prefect_workers()


def _drain_prefect_workers() -> None:
    """Send the last logs and events before the server stops (as prefect_test_harness)."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        for result in (APILogWorker.instance().drain(), EventsWorker.drain_all()):
            if inspect.isawaitable(result):
                await result

    run_coro_as_sync(drain())


@pytest.fixture(autouse=True)
def _prefect_api_only_where_used(request: pytest.FixtureRequest) -> Iterator[None]:
    """Once the session's server runs, a test without `prefect_api` still has no API: a flow
    it runs fails, whatever ran before it (so the e2e marker cannot be missing)."""
    if not _API_ACTIVE or "prefect_api" in request.fixturenames:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        yield


@pytest.fixture
def events_api() -> Iterator[Callable[..., "EventsApi"]]:
    """Start a paginated events API (tests/servers.py) over the records given; stopped after
    the test."""
    from tests.servers import EventsApi

    with ExitStack() as running:
        yield lambda *args, **kwargs: running.enter_context(EventsApi(*args, **kwargs).running())


@pytest.fixture
def webhook_receiver() -> Iterator["Receiver"]:
    """A local webhook receiver (tests/servers.py); its `url` takes the POSTs."""
    from tests.servers import webhook_server

    with webhook_server() as receiver:
        yield receiver


# ---------------------------------------------------------------- browser


@pytest.fixture
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (it cannot download its own browsers)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed: run `make system-deps-chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()


# ---------------------------------------------------------------- engage server


@dataclass(frozen=True)
class EngageServer:
    engage: Callable[..., subprocess.CompletedProcess[str]]
    state: ServerState


@pytest.fixture
def engage_server(tmp_path: Path) -> Iterator["EngageServer"]:
    """`engage server start` as a user runs it (its own Prefect server, no PREFECT_API_URL);
    `engage server stop` after the test, which leaves no state behind."""
    home = tmp_path / "engage-server"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    environment["ENGAGE_SERVER_HOME"] = str(home)

    def engage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "engage"), *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )

    assert engage("server", "start").returncode == 0
    state = running_state(home)
    assert state is not None
    try:
        yield EngageServer(engage, state)
    finally:
        assert engage("server", "stop").returncode == 0
    assert running_state(home) is None
