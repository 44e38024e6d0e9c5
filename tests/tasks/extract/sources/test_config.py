"""The `sources` section: named sources, column mapping, safe identifiers, old files valid."""

from pathlib import Path

import pytest

from flows.settings import ConfigFileError, load_config, load_source
from scoring.followup_config import DeliveryConfig
from tasks.extract.sources.config import (
    FileSourceConfig,
    HttpSourceConfig,
    PostgresSourceConfig,
    sources_from_document,
)
from tasks.secrets import SecretRef

CONFIG_WITH_SOURCES = """
window_days: 30
weights: {login: 1}
sources:
  warehouse:
    kind: postgres
    table: analytics.events
    columns: {user_id: customer_id, name: event_type, ts: occurred_at}
  lake:
    kind: files
    path: s3://events/daily/*.parquet
    lookback_days: 5
  api:
    kind: http
    url: https://api.example.com/v1/events
    token_env: EVENTS_API_TOKEN
"""


def test_sources_are_named_by_their_key_and_typed_by_kind(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG_WITH_SOURCES)
    warehouse = load_source(path, "warehouse")
    assert isinstance(warehouse, PostgresSourceConfig)
    assert warehouse.name == "warehouse"
    assert warehouse.source_column("occurred_at") == "ts"
    assert warehouse.source_column("event_id") == "event_id"  # unmapped: same name
    assert warehouse.lookback_days == 3  # the default late-data lookback
    lake = load_source(path, "lake")
    assert isinstance(lake, FileSourceConfig)
    assert lake.lookback_days == 5
    assert isinstance(load_source(path, "api"), HttpSourceConfig)
    # the scoring rules ignore the section, and a file without one stays valid
    assert load_config(path).weights == {"login": 1}
    plain = tmp_path / "plain.yaml"
    plain.write_text("weights: {login: 1}\n")
    assert load_config(plain).weights == {"login": 1}


def test_unknown_source_names_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG_WITH_SOURCES)
    with pytest.raises(ConfigFileError, match=r"no source 'lakes'.*known: api, lake, warehouse"):
        load_source(path, "lakes")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"kind": "postgres", "table": "events; drop table x"}, "not `table` or `schema.table`"),
        ({"kind": "postgres", "table": "a.b.c"}, "not `table` or `schema.table`"),
        ({"kind": "postgres", "table": "t", "query": "select 1"}, "exactly one of"),
        ({"kind": "postgres", "query": "select 1; drop table t"}, "single SELECT"),
        (
            {"kind": "postgres", "table": "t", "columns": {"ts desc": "occurred_at"}},
            "not a plain identifier",
        ),
        (
            {"kind": "files", "path": "x", "columns": {"a": "customer_id", "b": "customer_id"}},
            "several source columns map onto customer_id",
        ),
        ({"kind": "http", "url": "ftp://x"}, "url"),
        (
            {"kind": "http", "url": "http://x", "token_env": "T", "token_block": "t"},
            "at most one of `token_env` or `token_block`",
        ),
        ({"kind": "kafka"}, "kind"),
        ({"kind": "files", "path": "x", "pasword": "x"}, "Extra inputs"),
    ],
)
def test_invalid_sources_are_refused_with_the_key(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        sources_from_document({"sources": {"bad": settings}})
    assert "sources.bad" in str(raised.value)


SECRET = "postgresql://alice:S3cr3tPw@db:5432/prod"


@pytest.mark.parametrize(
    ("settings", "key", "where"),
    [
        ({"kind": "postgres", "table": "t", "dsn_env": SECRET}, "dsn_env", "environment variable"),
        ({"kind": "postgres", "table": "t", "secret_block": SECRET}, "secret_block", "block"),
        ({"kind": "http", "url": "http://x", "token_env": "Bearer S3cr3tPw"}, "token_env", "env"),
        ({"kind": "http", "url": "http://x", "token_block": "S3cr3tPw!"}, "token_block", "block"),
        ({"kind": "files", "path": "s3://b/", "credentials_block": SECRET}, "credentials", "block"),
        ({"kind": "http", "url": "https://u:S3cr3tPw@api.example.com/e"}, "http", "a password"),
    ],
    ids=["dsn_env", "secret_block", "token_env", "token_block", "credentials_block", "url"],
)
def test_a_secret_where_its_name_belongs_is_refused_without_quoting_it(
    settings: dict, key: str, where: str
) -> None:
    with pytest.raises(ValueError, match=f"sources.bad.*{key}.*{where}") as raised:
        sources_from_document({"sources": {"bad": settings}})
    assert "S3cr3tPw" not in str(raised.value)


def test_secret_references_and_the_webhook_variable_must_be_names() -> None:
    for reference in ({"env": SECRET}, {"block": SECRET}):
        with pytest.raises(ValueError, match="not the secret itself") as raised:
            SecretRef.model_validate(reference)
        assert "S3cr3tPw" not in str(raised.value)
    with pytest.raises(ValueError, match="webhook_url_env") as raised:
        DeliveryConfig(webhook_url_env="https://hooks.example.com/S3cr3tPw")
    assert "S3cr3tPw" not in str(raised.value)
    assert SecretRef(env="ENGAGE_POSTGRES_DSN").env == "ENGAGE_POSTGRES_DSN"
    with pytest.raises(ValueError, match="webhook_url holds a password") as raised:
        DeliveryConfig(webhook_url="https://crm:S3cr3tPw@hooks.example.com/in")
    assert "S3cr3tPw" not in str(raised.value)  # the manifest would have kept it


def test_http_errors_show_the_endpoint_without_its_query() -> None:
    api = HttpSourceConfig(name="a", url="https://api.example.com/v1/events?api_key=S3cr3tPw")
    assert api.endpoint == "https://api.example.com/v1/events"


def test_each_secret_of_a_source_is_a_reference_to_where_it_is_kept() -> None:
    postgres = PostgresSourceConfig(name="w", table="t")
    assert postgres.dsn_secret() == SecretRef(env="ENGAGE_POSTGRES_DSN")
    assert postgres.model_copy(update={"secret_block": "dsn"}).dsn_secret() == SecretRef(
        block="dsn"
    )
    api = HttpSourceConfig(name="a", url="https://x")
    assert api.token_secret() is None
    assert api.model_copy(update={"token_block": "tok"}).token_secret() == SecretRef(block="tok")
    files = FileSourceConfig(name="f", path="s3://b/", credentials_block="s3")
    assert files.credentials_secret() == SecretRef(block="s3")
