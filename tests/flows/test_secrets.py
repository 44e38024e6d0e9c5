"""Secrets from a Prefect Secret block and from the environment never reach logs, artifacts,
flow parameters, task states, manifests or output files: a run that uses them (and tries hard
to leak them) is grepped everywhere for their values."""

import asyncio
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.blocks.system import Secret
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import Artifact
from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort
from prefect.logging.handlers import APILogHandler
from pydantic import SecretStr

from flows.daily import daily_scoring
from scoring.config import ScoringConfig
from tasks.secrets import (
    SecretLeakGuardError,
    SecretNotFoundError,
    SecretRef,
    resolve_secret,
    scrubbed_errors,
)

pytestmark = pytest.mark.usefixtures("prefect_api")

DB_PASSWORD = "pw-Qx7!r9#LkT2/zz"  # URL-special characters: also checked URL-encoded
API_TOKEN = "tok-9f8e7d6c5b4a3921"
BLOCK = "engage-test-db-password"
TOKEN_ENV = "ENGAGE_TEST_API_TOKEN"
RUN_DATE = date(2026, 3, 31)
EVENTS = """event_id,customer_id,event_type,occurred_at
e1,alice,login,2026-03-31T10:00:00Z
e2,bob,login,not-a-time
"""


def _leaks(text: str) -> list[str]:
    values = (DB_PASSWORD, quote(DB_PASSWORD, safe=""), API_TOKEN)
    return [value for value in values if value in text]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured_logs() -> Iterator[_Capture]:
    capture = _Capture()
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
    ]
    levels = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.addHandler(capture)
    logging.getLogger().setLevel(logging.DEBUG)
    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs"):
        logging.getLogger(name).setLevel(logging.INFO)  # retries are logged at INFO
    yield capture
    for logger, level in levels:
        logger.removeHandler(capture)
        logger.setLevel(level)


@task(cache_policy=NO_CACHE, persist_result=False, retries=1, retry_delay_seconds=0)
def connect_source(password: SecretStr, attempts: list[int]) -> str:
    """A stand-in for a database source: builds a DSN and fails once the way drivers do."""
    dsn = f"postgresql://engage:{quote(password.get_secret_value(), safe='')}@127.0.0.1:1/events"
    get_run_logger().warning("connecting to %s", dsn)  # careless driver-style logging
    attempts.append(1)
    with scrubbed_errors("source 'warehouse' (postgresql)"):
        if len(attempts) == 1:
            raise ConnectionError(f"connection to {dsn} refused")
    return "connected"


@flow(name="credentialed-run", log_prints=True)
def credentialed_run(events: str, output: str, token: SecretStr) -> str:
    password = resolve_secret(SecretRef(block=BLOCK))
    from_env = resolve_secret(SecretRef(env=TOKEN_ENV))
    assert from_env.get_secret_value() == token.get_secret_value() == API_TOKEN
    print(f"calling the API with token {from_env.get_secret_value()}")
    logging.getLogger("some.http.client").warning("Authorization: Bearer %s", API_TOKEN)
    try:
        raise PermissionError(f"token {API_TOKEN} rejected")
    except PermissionError:
        logging.getLogger("some.http.client").exception("request failed")
    connect_source(password, [])
    create_markdown_artifact(
        markdown=f"# sources\n\nwarehouse: password {password}, api: token {token}",
        key="secrets-test",
    )
    config = ScoringConfig(weights={"login": 1})
    daily_scoring(events=events, config=config, run_date=RUN_DATE, output=output)
    return "done"


async def _server_side_texts() -> list[str]:
    async with get_client() as client:
        runs = await client.read_flow_runs(sort=FlowRunSort.ID_DESC, limit=50)
        texts = [repr(r.parameters) for r in runs]
        texts += [r.state.message or "" for r in runs if r.state]
        for task_run in await client.read_task_runs(sort=TaskRunSort.ID_DESC, limit=100):
            texts += [task_run.state.message or ""] if task_run.state else []
            states = await client.read_task_run_states(task_run.id)
            texts += [f"{s.name}: {s.message}" for s in states]
        # (read_artifacts sends null filters that this server version rejects: ask directly)
        every = {"sort": "CREATED_DESC", "limit": 100}
        response = await client.request("POST", "/artifacts/filter", json=every)
        artifacts = Artifact.model_validate_list(response.json())
        assert any(a.key == "secrets-test" for a in artifacts), response.json()
        texts += [repr(a.data) + repr(a.description) for a in artifacts]
        offset = 0  # every log line the server holds (this run's and its subflow's included)
        while logs := (
            await client.request("POST", "/logs/filter", json={"limit": 200, "offset": offset})
        ).json():
            texts += [log["message"] for log in logs]
            offset += len(logs)
    return texts


def test_no_secret_reaches_logs_artifacts_states_or_outputs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    captured_logs: _Capture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    Secret(value=DB_PASSWORD).save(BLOCK, overwrite=True)
    monkeypatch.setenv(TOKEN_ENV, API_TOKEN)
    events = tmp_path / "events.csv"
    events.write_text(EVENTS)
    output = tmp_path / "out"

    state = credentialed_run(
        events=str(events), output=str(output), token=SecretStr(API_TOKEN), return_state=True
    )
    assert state.is_completed(), state
    APILogHandler().flush()

    # the run really used the secrets: masked forms are where the values would have been
    server_texts = asyncio.run(_server_side_texts())
    everything = "\n".join(server_texts + captured_logs.lines)
    assert "postgresql://engage:**********@127.0.0.1:1/events" in everything
    assert "Bearer **********" in everything
    assert "source 'warehouse' (postgresql): ConnectionError: connection to" in everything
    assert "calling the API with token **********" in everything

    leaks = [text for text in server_texts if _leaks(text)]
    assert leaks == [], "secret in server-side logs, states, parameters or artifacts"
    assert [line for line in captured_logs.lines if _leaks(line)] == []
    stdout, stderr = capfd.readouterr()
    assert _leaks(stdout + stderr) == []
    files = [p for p in output.rglob("*") if p.is_file()]
    assert {p.parent.parent.name for p in files} >= {"scores", "quarantine", "runs"}
    for file in files:
        assert _leaks(file.read_bytes().decode("utf-8", "replace")) == [], file


def test_missing_secrets_say_where_to_put_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENGAGE_NOT_SET", raising=False)
    with pytest.raises(SecretNotFoundError, match="environment variable ENGAGE_NOT_SET is not set"):
        resolve_secret(SecretRef(env="ENGAGE_NOT_SET"))
    with pytest.raises(SecretNotFoundError, match="Prefect Secret block 'no-such-block' not found"):
        resolve_secret(SecretRef(block="no-such-block"))


def test_scrubbed_errors_drop_the_chain_that_held_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, API_TOKEN)
    resolve_secret(SecretRef(env=TOKEN_ENV))
    with pytest.raises(SecretLeakGuardError) as raised, scrubbed_errors("api source"):
        try:
            raise KeyError(API_TOKEN)
        except KeyError as error:
            raise RuntimeError("lookup failed") from error
    assert str(raised.value) == "api source: RuntimeError: lookup failed"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(ValueError, match="no secret here"), scrubbed_errors("api source"):
        raise ValueError("no secret here")


def test_cli_error_messages_are_scrubbed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.cli import _fail

    monkeypatch.setenv(TOKEN_ENV, API_TOKEN)
    resolve_secret(SecretRef(env=TOKEN_ENV))
    assert _fail(f"source 'api': 401 for token {API_TOKEN}").exit_code == 2
    assert "401 for token **********" in capsys.readouterr().err
