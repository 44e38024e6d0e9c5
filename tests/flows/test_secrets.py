"""Secrets from a Prefect Secret block and from the environment never reach logs, artifacts,
flow parameters, task states, manifests or output files: a run that uses them (and tries hard
to leak them) is grepped everywhere for their values."""

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogHandler
from pydantic import SecretStr

from deployments.local_stack import LocalPostgres, PrefectServer
from flows.daily import daily_scoring
from flows.followups import deliver_followups
from scoring.config import ScoringConfig
from scoring.schema import ACTIONS
from tasks.extract.sources.base import SourceError
from tasks.extract.sources.config import HttpSourceConfig
from tasks.followups.deliver import ledger_path
from tasks.publish.write import write_manifest, write_partition
from tasks.secrets import (
    SecretLeakGuardError,
    SecretNotFoundError,
    SecretRef,
    resolve_secret,
    scrubbed_errors,
)
from tests.servers import Receiver

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
    with scrubbed_errors():
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
    assert "connection to postgresql://engage:**********@127.0.0.1:1/events refused" in everything
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


def test_scrubbed_errors_keep_their_type_and_lose_the_secret_and_its_chain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, API_TOKEN)
    resolve_secret(SecretRef(env=TOKEN_ENV))
    with pytest.raises(RuntimeError) as raised, scrubbed_errors():
        try:
            raise KeyError(API_TOKEN)
        except KeyError as error:
            raise RuntimeError("lookup failed") from error
    assert str(raised.value) == "lookup failed"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(SourceError, match=r"^token \*{10} rejected$"), scrubbed_errors():
        raise SourceError(f"token {API_TOKEN} rejected")  # the CLI's exit code depends on it
    # an OSError's text comes from its attributes: it cannot be scrubbed in place
    leaking_attribute = r"^FileNotFoundError: .*/\*{10}'$"
    with pytest.raises(SecretLeakGuardError, match=leaking_attribute), scrubbed_errors():
        raise FileNotFoundError(2, "No such file", f"/tmp/{API_TOKEN}")
    with pytest.raises(ValueError, match="no secret here"), scrubbed_errors():
        raise ValueError("no secret here")


def test_cli_error_messages_are_scrubbed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.terminal import fail as _fail

    monkeypatch.setenv(TOKEN_ENV, API_TOKEN)
    resolve_secret(SecretRef(env=TOKEN_ENV))
    assert _fail(f"source 'api': 401 for token {API_TOKEN}").exit_code == 2
    assert "401 for token **********" in capsys.readouterr().err


ECHOED_TOKEN = "tok-echo-5e1f0a9b7c3d"
WEBHOOK_PASSWORD = "pw-9Hq2LmX7vTzR"
WEBHOOK_PATH_SECRET = "sp-4f7a9c2e1b3d8a60"


def prefect_database_dump(server: PrefectServer, postgres: LocalPostgres, directory: Path) -> Path:
    """Every row the session's Prefect server holds (runs, states, events, logs), dumped as
    SQL text into a file under `directory`, to be searched like the outputs."""
    dump = directory / "prefect-database" / "dump.sql"
    dump.parent.mkdir()
    dump.write_text(postgres.dump(database_name(server)))
    return dump


def database_name(server: PrefectServer) -> str:
    assert server.database_url and server.database_url.startswith("postgresql"), server
    return server.database_url.rsplit("/", 1)[1]


def wait_until_recorded(
    server: PrefectServer, postgres: LocalPostgres, flow_run_id: str, timeout_s: float = 60.0
) -> None:
    """Wait until the server stored the Failed events of the flow run and of its failed task
    (events are persisted in batches; task run states arrive as events)."""
    APILogHandler().flush()
    EventsWorker.drain_all()
    flow_run = f"prefect.flow-run.{flow_run_id}"
    query = (
        "SELECT count(*) FROM events WHERE (event = 'prefect.flow-run.Failed' AND "
        f"resource_id = '{flow_run}') OR (event = 'prefect.task-run.Failed' AND "
        f"related_resource_ids::text LIKE '%{flow_run}%')"
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if int(postgres.query(database_name(server), query).strip()) >= 2:
            return
        time.sleep(0.5)
    raise AssertionError(f"the server stored no Failed events of flow run {flow_run_id}")


def files_holding(secrets: list[str], roots: list[Path]) -> dict[str, list[str]]:
    """Per file under `roots` (or a file itself), the secrets (or their URL-encoded forms)
    its bytes hold."""
    found = {}
    for root in roots:
        for file in [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]:
            data = file.read_bytes()
            held = [s for s in secrets if s.encode() in data or quote(s, safe="").encode() in data]
            if held:
                found[str(file)] = held
    return found


@contextlib.contextmanager
def api_echoing_the_authorization() -> Iterator[str]:
    """An events API that answers 401 quoting the request's Authorization header."""

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"error": f"rejected {self.headers['Authorization']}"}).encode()
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/events"
    finally:
        server.shutdown()
        server.server_close()


def test_a_token_echoed_by_the_api_reaches_neither_the_server_database_nor_the_outputs(
    prefect_server: PrefectServer,
    postgres: LocalPostgres,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENGAGE_TEST_ECHOED_TOKEN", ECHOED_TOKEN)
    output = tmp_path / "out"
    with api_echoing_the_authorization() as url:
        source = HttpSourceConfig(name="product", url=url, token_env="ENGAGE_TEST_ECHOED_TOKEN")
        state = daily_scoring(
            source=source,
            config=ScoringConfig(weights={"login": 1}),
            run_date=RUN_DATE,
            output=str(output),
            return_state=True,
        )
    assert state.is_failed()
    assert "answered HTTP 401 Unauthorized" in str(state.message)
    assert "rejected Bearer **********" in str(state.message)  # the body, scrubbed
    wait_until_recorded(prefect_server, postgres, str(state.state_details.flow_run_id))
    prefect_database_dump(prefect_server, postgres, tmp_path)
    assert files_holding([ECHOED_TOKEN], [tmp_path]) == {}


def test_a_webhook_url_secret_reaches_neither_the_server_database_nor_the_ledger(
    prefect_server: PrefectServer,
    postgres: LocalPostgres,
    webhook_receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.flows.test_deliver_flow import actions

    output = tmp_path / "out"
    ids = [f"2026-03-31:at_risk:{c}:new" for c in ("a", "b")]
    write_partition(actions(ids), "actions", ACTIONS, output, RUN_DATE)
    config = ScoringConfig.model_validate(
        {"followups": {"delivery": {"retries": 0, "drop_formats": ["csv"]}}}
    )
    write_manifest({"config": config.model_dump(mode="json")}, output, RUN_DATE)
    receiver, plain_url = webhook_receiver, webhook_receiver.url
    address = plain_url.removeprefix("http://").removesuffix("/hook")
    secret_url = f"http://engage:{WEBHOOK_PASSWORD}@{address}/hook/{WEBHOOK_PATH_SECRET}"
    monkeypatch.setenv("ENGAGE_WEBHOOK_URL", secret_url)  # the delivery config's default
    receiver.rejected = {ids[1]}
    failed = deliver_followups(run_date=RUN_DATE, output=str(output), return_state=True)
    assert failed.is_failed()
    assert f"http://{address}/…: action {ids[1]} not delivered (HTTP 400)" in str(failed.message)
    receiver.rejected = set()
    report = deliver_followups(run_date=RUN_DATE, output=str(output))
    assert report.webhook is not None
    assert (report.webhook.sent, report.webhook.already_delivered) == ([ids[1]], [ids[0]])
    ledger = [json.loads(line) for line in ledger_path(output).read_text().splitlines()]
    assert [entry["endpoint"] for entry in ledger] == [f"http://{address}/…"] * 2
    wait_until_recorded(prefect_server, postgres, str(failed.state_details.flow_run_id))
    prefect_database_dump(prefect_server, postgres, tmp_path)
    secrets = [secret_url, WEBHOOK_PASSWORD, WEBHOOK_PATH_SECRET]
    assert files_holding(secrets, [tmp_path]) == {}


FLAGGED_EVENTS = """event_id,customer_id,event_type,occurred_at
e1,ana,app_uninstalled,2026-03-30T10:00:00Z
e2,ben,login,2026-03-31T10:00:00Z
"""


def test_a_webhook_url_in_the_configuration_file_stays_there(
    prefect_server: PrefectServer,
    postgres: LocalPostgres,
    webhook_receiver: Receiver,
    tmp_path: Path,
) -> None:
    """A Slack-style URL (its token in the path) written in the configuration file: the run's
    manifest, report, outputs, logs and the server's database never hold it; the delivery flow
    reads it from that file and delivers."""
    address = webhook_receiver.url.removeprefix("http://").removesuffix("/hook")
    secret_url = f"http://{address}/hook/{WEBHOOK_PATH_SECRET}"
    events, config, output = tmp_path / "events.csv", tmp_path / "config.yaml", tmp_path / "out"
    events.write_text(FLAGGED_EVENTS)
    rule = {"condition": "tier", "tiers": ["churn_risk"]}
    at_risk = {"name": "churn_risk", "kind": "at_risk", "when": rule, "reason": "negative"}
    delivery = {"webhook_url": secret_url, "retries": 0, "drop_formats": ["csv"]}
    document = {
        "weights": {"login": 1, "app_uninstalled": -20},
        "followups": {"rules": [at_risk], "delivery": delivery},
    }
    config.write_text(json.dumps(document))  # JSON is YAML
    summary = daily_scoring(
        events=str(events),
        config=str(config),
        run_date=RUN_DATE,
        output=str(output),
        deliver_baseline=True,
    )
    manifest = json.loads(next(output.glob("runs/run_date=*/manifest.json")).read_text())
    assert manifest["webhook_url_file"] == str(config.resolve())
    assert manifest["config"]["followups"]["delivery"]["webhook_url"] == "**********"
    assert summary.followups is not None and summary.followups.actions

    report = deliver_followups(run_date=RUN_DATE, output=str(output))
    assert report.webhook is not None and report.webhook.sent == ["2026-03-31:at_risk:ana:new"]
    assert [key for key, _ in webhook_receiver.accepted()] == report.webhook.sent
    prefect_database_dump(prefect_server, postgres, tmp_path)
    assert files_holding([WEBHOOK_PATH_SECRET], [tmp_path]) == {str(config): [WEBHOOK_PATH_SECRET]}
