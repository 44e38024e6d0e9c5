"""Every source end to end through the daily flow, against real servers (PostgreSQL, moto S3,
the local events API): identical scores whichever source the events came from, incremental
runs with late events, and failures that are retried without losing or doubling anything."""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from flows.daily import daily_scoring
from scoring.config import ScoringConfig
from tasks.extract.sources import ExtractWindow, SourceError
from tasks.extract.sources.config import (
    FileSourceConfig,
    HttpSourceConfig,
    PostgresSourceConfig,
    SourceConfig,
)
from tasks.extract.sources.files import FileSource
from tests.servers import EventsApi

pytestmark = pytest.mark.usefixtures("prefect_api")

RUN_DATE = date(2026, 3, 31)
CONFIG = ScoringConfig(weights={"login": 1, "invite_sent": 10, "app_uninstalled": -20})
MAPPING = {"id": "event_id", "user_id": "customer_id", "name": "event_type", "ts": "occurred_at"}
COLUMNS = ["id", "user_id", "name", "ts", "plan"]

# id, user_id, name, ts, plan: the source's own column names (mapped by configuration)
ROWS: list[tuple[str, str | None, str, datetime, str | None]] = [
    ("e1", "alice", "login", datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC), "pro"),
    ("e2", "alice", "invite_sent", datetime(2026, 3, 2, tzinfo=UTC), None),
    ("e3", "alice", "invite_sent", datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC), None),
    ("e4", "bob", "app_uninstalled", datetime(2026, 3, 15, 10, tzinfo=UTC), None),
    ("e4", "bob", "app_uninstalled", datetime(2026, 3, 15, 10, tzinfo=UTC), None),
    ("e5", "bob", "page_view", datetime(2026, 3, 16, tzinfo=UTC), None),
    ("e6", "carol", "login", datetime(2026, 1, 5, 8, tzinfo=UTC), None),
    ("e7", "dave", "login", datetime(2026, 4, 1, tzinfo=UTC), None),
    ("e8", None, "login", datetime(2026, 3, 20, tzinfo=UTC), None),
]
EXPECTED_SCORES = [
    ("alice", 11.0, "very_disengaged", 2),  # e3 is one second before the window
    ("bob", -20.0, "churn_risk", 2),  # duplicate e4 counted once; page_view unweighted
    ("carol", 0.0, "very_disengaged", 0),  # seen before the window: scores 0
]


def _frame(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=COLUMNS, orient="row").with_columns(
        pl.col("ts").cast(pl.Datetime("us", "UTC"))
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _api_records(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(COLUMNS, (*r[:3], _iso(r[3]), r[4]), strict=True)) for r in rows]


def _pg_load(uri: str, table: str, rows: list[tuple[Any, ...]], create: bool = True) -> None:
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(uri) as connection, connection.cursor() as cursor:
        if create:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(
                f"CREATE TABLE {table} (id text, user_id text, name text, ts timestamptz, "
                "plan text)"
            )
        if rows:
            cursor.adbc_ingest(table, _frame(rows).to_arrow(), mode="append")
        connection.commit()


def _outputs(output: Path, run_date: date = RUN_DATE) -> dict[str, pl.DataFrame]:
    partition = f"run_date={run_date.isoformat()}"
    return {t: pl.read_parquet(output / t / partition) for t in ("scores", "contributions")}


def _manifest(output: Path, run_date: date = RUN_DATE) -> dict[str, Any]:
    path = output / "runs" / f"run_date={run_date.isoformat()}" / "manifest.json"
    return json.loads(path.read_text())


@pytest.fixture
def api(events_api: Callable[..., EventsApi]) -> EventsApi:
    return events_api(_api_records(ROWS), time_field="ts")


def test_every_source_gives_the_same_scores(
    tmp_path: Path, postgres_uri: str, s3_endpoint: str, api: EventsApi
) -> None:
    import s3fs

    # the same events in a local CSV, a Parquet object on S3, a PostgreSQL table, an HTTP API
    csv_path = tmp_path / "events.csv"
    _frame(ROWS).with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ")).write_csv(csv_path)
    filesystem = s3fs.S3FileSystem(endpoint_url=s3_endpoint, skip_instance_cache=True)
    filesystem.mkdir("same-events")
    _frame(ROWS).write_parquet(tmp_path / "events.parquet")
    filesystem.put(str(tmp_path / "events.parquet"), "same-events/2026/events.parquet")
    _pg_load(postgres_uri, "same_events", ROWS)

    sources: list[SourceConfig] = [
        FileSourceConfig(name="local", path=str(csv_path), columns=MAPPING),
        FileSourceConfig(
            name="lake", path="s3://same-events/2026/", columns=MAPPING, endpoint_url=s3_endpoint
        ),
        PostgresSourceConfig(
            name="warehouse", table="same_events", columns=MAPPING, dsn_env="SAME_EVENTS_DSN"
        ),
        HttpSourceConfig(name="product", url=api.url, page_size=4, columns=MAPPING),
    ]
    reference_csv = tmp_path / "canonical.csv"
    pl.read_csv(csv_path).rename(MAPPING).write_csv(reference_csv)
    daily_scoring(
        events=str(reference_csv), config=CONFIG, run_date=RUN_DATE, output=str(tmp_path / "ref")
    )
    reference = _outputs(tmp_path / "ref")
    assert reference["scores"].select("customer_id", "score", "tier", "event_count").rows() == (
        EXPECTED_SCORES
    )

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAME_EVENTS_DSN", postgres_uri)
        for source in sources:
            output = tmp_path / source.name
            summary = daily_scoring(
                source=source, config=CONFIG, run_date=RUN_DATE, output=str(output)
            )
            for table, frame in _outputs(output).items():
                assert frame.equals(reference[table]), f"{source.name}: {table} differ"
            # e7 is after the run date: not read; e8 has no customer: quarantined
            assert summary.validation.rows_read == 8, source.name
            assert summary.validation.rows_quarantined == 1, source.name
            assert summary.validation.duplicates_removed == 1, source.name
            extraction = _manifest(output)["extraction"]
            assert extraction["window_start"] is None  # first run: the whole history
            assert extraction["store"]["events_added"] == 6
            watermark = json.loads(
                (output / "_state" / "watermarks" / f"{source.name}.json").read_text()
            )
            assert watermark["extracted_until"] == "2026-04-01T00:00:00+00:00"


def test_incremental_runs_read_only_new_events_and_report_late_ones(
    tmp_path: Path, postgres_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCREMENTAL_DSN", postgres_uri)
    _pg_load(postgres_uri, "incremental_events", ROWS)
    source = PostgresSourceConfig(
        name="warehouse", table="incremental_events", columns=MAPPING, dsn_env="INCREMENTAL_DSN"
    )
    output = tmp_path / "out"
    daily_scoring(source=source, config=CONFIG, run_date=RUN_DATE, output=str(output))

    # new events arrive: one on time, one two days late (within the 3-day lookback), one
    # eleven days late (beyond it: not picked up, by design)
    arrivals = [
        ("e9", "alice", "login", datetime(2026, 4, 1, 10, tzinfo=UTC), None),
        ("e10", "carol", "login", datetime(2026, 3, 30, 12, tzinfo=UTC), None),
        ("e11", "erin", "login", datetime(2026, 3, 21, tzinfo=UTC), None),
    ]
    _pg_load(postgres_uri, "incremental_events", arrivals, create=False)
    next_day = date(2026, 4, 1)
    summary = daily_scoring(source=source, config=CONFIG, run_date=next_day, output=str(output))

    extraction = _manifest(output, next_day)["extraction"]
    # watermark 2026-04-01T00:00Z minus 3 days
    assert extraction["window_start"] == "2026-03-29T00:00:00+00:00"
    assert extraction["window_end"] == "2026-04-02T00:00:00+00:00"
    # read e1 (lookback, already stored), e7, e9, e10
    assert summary.validation.rows_read == 4
    assert extraction["store"]["events_added"] == 3
    assert extraction["store"]["events_already_stored"] == 1
    assert extraction["late_events"] == {
        "count": 1,
        "event_dates": ["2026-03-30"],
        "affected_run_dates": ["2026-03-31"],
    }
    scores = _outputs(output, next_day)["scores"]
    # window 2026-03-03 .. 04-01: alice e1 + e9; bob e4; carol e10 (late); dave e7
    assert scores.select("customer_id", "score", "event_count").rows() == [
        ("alice", 2.0, 2),
        ("bob", -20.0, 2),
        ("carol", 1.0, 1),
        ("dave", 1.0, 1),
    ]
    watermark = json.loads((output / "_state" / "watermarks" / "warehouse.json").read_text())
    assert watermark["extracted_until"] == "2026-04-02T00:00:00+00:00"

    # the same run again: reads its lookback, adds nothing, scores the same
    daily_scoring(source=source, config=CONFIG, run_date=next_day, output=str(output))
    again = _manifest(output, next_day)["extraction"]
    assert again["store"]["events_added"] == 0
    assert _outputs(output, next_day)["scores"].equals(scores)


def test_a_failure_mid_extraction_is_retried_and_counts_nothing_twice(
    tmp_path: Path, api: EventsApi
) -> None:
    # page 2 fails beyond the client's retry (requests 2, 3): the task is retried and reads
    # everything again; on that attempt page 2 is throttled once (request 5), then served
    api.behaviour.failing_requests = {2, 3}
    api.behaviour.throttle_requests = {5}
    api.behaviour.retry_after = "0"
    source = HttpSourceConfig(
        name="product", url=api.url, page_size=3, columns=MAPPING, max_retries=1, backoff_s=0
    )
    output = tmp_path / "out"
    summary = daily_scoring(source=source, config=CONFIG, run_date=RUN_DATE, output=str(output))
    cursors = [q.get("cursor", [None])[0] for q in api.requests]
    assert cursors == [None, "3", "3", None, "3", "3", "6"]
    assert summary.validation.rows_read == 8
    assert summary.validation.duplicates_removed == 1
    scores = _outputs(output)["scores"]
    assert scores.select("customer_id", "score", "tier", "event_count").rows() == EXPECTED_SCORES


def test_a_source_error_publishes_nothing_and_keeps_the_watermark(
    tmp_path: Path, api: EventsApi
) -> None:
    source = HttpSourceConfig(name="product", url=api.url, page_size=100, columns=MAPPING)
    output = tmp_path / "out"
    api.behaviour.status_override = 403
    with pytest.raises(SourceError, match=r"source 'product': .* HTTP 403"):
        daily_scoring(source=source, config=CONFIG, run_date=RUN_DATE, output=str(output))
    assert len(api.requests) == 1  # a 4xx is not retried, by the client nor by the task
    assert not (output / "scores").exists()
    assert not (output / "_state" / "watermarks").exists()

    api.behaviour.status_override = None
    daily_scoring(source=source, config=CONFIG, run_date=RUN_DATE, output=str(output))
    scores = _outputs(output)["scores"]
    assert scores.select("customer_id", "score", "tier", "event_count").rows() == EXPECTED_SCORES


def test_cli_runs_a_configured_source(tmp_path: Path, api: EventsApi) -> None:
    config_path = tmp_path / "config.yaml"
    document = CONFIG.model_dump(mode="json") | {
        "sources": {"product": {"kind": "http", "url": api.url, "columns": MAPPING}}
    }
    config_path.write_text(yaml.safe_dump(document))
    arguments = ["run", "--config", str(config_path), "--run-date", "2026-03-31"]
    result = CliRunner().invoke(
        app, [*arguments, "--source", "product", "--output", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert "events added to store" in result.output
    assert _outputs(tmp_path / "out")["scores"].height == 3

    result = CliRunner().invoke(app, [*arguments, "--source", "nope"])
    assert result.exit_code == 2
    assert "no source 'nope'" in result.output
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2
    assert "exactly one of --events" in result.output


def test_deployment_style_run_from_the_environment_with_a_secret_block(
    tmp_path: Path, postgres_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.blocks.system import Secret

    Secret(value=postgres_uri).save("engage-test-warehouse-dsn", overwrite=True)
    _pg_load(postgres_uri, "secret_events", ROWS)
    config_path = tmp_path / "config.yaml"
    source = {
        "kind": "postgres",
        "table": "secret_events",
        "columns": MAPPING,
        "secret_block": "engage-test-warehouse-dsn",
    }
    document = CONFIG.model_dump(mode="json") | {"sources": {"warehouse": source}}
    config_path.write_text(yaml.safe_dump(document))
    output = tmp_path / "out"
    monkeypatch.delenv("ENGAGE_EVENTS", raising=False)
    monkeypatch.setenv("ENGAGE_CONFIG", str(config_path))
    monkeypatch.setenv("ENGAGE_SOURCE", "warehouse")
    monkeypatch.setenv("ENGAGE_OUTPUT", str(output))

    daily_scoring(config=CONFIG, run_date=RUN_DATE)

    scores = _outputs(output)["scores"]
    assert scores.select("customer_id", "score", "tier", "event_count").rows() == EXPECTED_SCORES
    assert _manifest(output)["extraction"]["source"] == "warehouse"
    password = urlsplit(postgres_uri).password
    assert password
    for path in output.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path


def test_s3_credentials_from_a_prefect_secret_block(
    tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs
    from prefect.blocks.system import Secret

    filesystem = s3fs.S3FileSystem(endpoint_url=s3_endpoint, skip_instance_cache=True)
    filesystem.mkdir("secret-events")
    _frame(ROWS).write_parquet(tmp_path / "events.parquet")
    filesystem.put(str(tmp_path / "events.parquet"), "secret-events/events.parquet")
    # no credentials anywhere in the environment
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    without = FileSourceConfig(
        name="lake", path="s3://secret-events/", columns=MAPPING, endpoint_url=s3_endpoint
    )
    with pytest.raises(SourceError, match=r"source 'lake': cannot list .* credentials") as raised:
        FileSource(without).read(ExtractWindow(None, datetime(2026, 4, 1, tzinfo=UTC)))
    assert "credentials" in str(raised.value.__cause__).lower()

    Secret(value={"key": "testing", "secret": "testing"}).save("engage-test-s3", overwrite=True)
    source = without.model_copy(update={"credentials_block": "engage-test-s3"})
    output = tmp_path / "out"
    daily_scoring(source=source, config=CONFIG, run_date=RUN_DATE, output=str(output))
    scores = _outputs(output)["scores"]
    assert scores.select("customer_id", "score", "tier", "event_count").rows() == EXPECTED_SCORES
