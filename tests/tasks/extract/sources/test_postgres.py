"""PostgreSQL source on a real server: pushed-down time filter with bound parameters, typed
columns, a query source, and errors that name the source without leaking the password."""

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pyarrow as pa
import pytest

from tasks.extract.sources.base import ExtractWindow, SourceError
from tasks.extract.sources.config import PostgresSourceConfig
from tasks.extract.sources.postgres import PostgresSource, select_statement

MAPPING = {"id": "event_id", "user_id": "customer_id", "name": "event_type", "ts": "occurred_at"}
EVERYTHING = ExtractWindow(start=None, end=datetime(2026, 4, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def events_table(postgres_uri: str) -> Iterator[str]:
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(postgres_uri) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        cursor.execute(
            "CREATE TABLE analytics.pg_events (id bigint, user_id text, name text, "
            "ts timestamptz, plan text)"
        )
        cursor.execute(
            "INSERT INTO analytics.pg_events VALUES "
            "(1, '007', 'login', '2026-03-30 10:00:00+02', 'pro'), "
            "(2, '008', 'invite_sent', '2026-03-31 23:59:59+00', NULL), "
            "(3, '009', 'login', '2026-04-01 00:00:00+00', NULL), "
            "(4, NULL, 'login', '2026-03-01 00:00:00+00', NULL), "
            "(5, '010', 'login', NULL, NULL)"
        )
        connection.commit()
    yield "analytics.pg_events"


def _config(**settings: object) -> PostgresSourceConfig:
    return PostgresSourceConfig(name="warehouse", columns=MAPPING, **settings)


def test_table_rows_of_the_window_with_typed_time(postgres_uri: str, events_table: str) -> None:
    source = PostgresSource(_config(table=events_table), uri=postgres_uri)
    frame = source.read(EVERYTHING).collect().sort("event_id")
    assert frame.select("event_id", "customer_id", "event_type", "occurred_at").rows() == [
        ("1", "007", "login", datetime(2026, 3, 30, 8, tzinfo=UTC)),
        ("2", "008", "invite_sent", datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)),
        ("4", None, "login", datetime(2026, 3, 1, tzinfo=UTC)),
        ("5", "010", "login", None),  # no time: read so that validation quarantines it
    ]
    assert frame["plan"].to_list() == ["pro", None, None, None]
    assert frame["source_file"].unique().to_list() == ["postgres:warehouse:analytics.pg_events"]


def test_the_time_filter_is_pushed_down_as_bound_parameters(
    postgres_uri: str, events_table: str
) -> None:
    window = ExtractWindow(datetime(2026, 3, 30, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    sql, parameters = select_statement(_config(table=events_table), window)
    assert sql == (
        'SELECT * FROM "analytics"."pg_events" AS engage_source '
        'WHERE ("ts" >= $1 AND "ts" < $2) OR "ts" IS NULL'
    )
    assert parameters == [window.start, window.end]
    assert "2026" not in sql
    fetched = PostgresSource(_config(table=events_table), uri=postgres_uri).fetch(window)
    assert isinstance(fetched, pa.Table)
    assert sorted(fetched.column("id").to_pylist()) == [1, 2, 5]


def test_columns_of_types_polars_lacks_are_read_as_their_text(postgres_uri: str) -> None:
    """uuid and bytea ids, numeric amounts, intervals and infinite times each ended the run
    with a Polars error or panic (exit 1)."""
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(postgres_uri) as connection, connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE typed_events (id uuid, user_id bytea, name text, ts timestamptz, "
            "amount numeric, customer_id numeric(6, 2), took interval, seen timestamp)"
        )
        cursor.execute(
            "INSERT INTO typed_events VALUES ('0b7a3c5e-1f2d-4e6a-9b8c-7d6e5f4a3b2c', "
            "'\\xff00', 'login', '2026-03-30 10:00Z', 12.50, 7.50, '1 day', 'infinity'), "
            "('1b7a3c5e-1f2d-4e6a-9b8c-7d6e5f4a3b2c', 'a', 'login', '-infinity', NULL, 8, "
            "NULL, '2026-03-30 10:00')"
        )
        connection.commit()
    mapping = {"id": "event_id", "user_id": "customer", "name": "event_type", "ts": "occurred_at"}
    config = PostgresSourceConfig(name="warehouse", table="typed_events", columns=mapping)
    frame = PostgresSource(config, uri=postgres_uri).read(EVERYTHING).collect().sort("event_id")
    assert frame.select("event_id", "customer", "customer_id", "amount", "took").rows() == [
        ("0b7a3c5e-1f2d-4e6a-9b8c-7d6e5f4a3b2c", "\\xff00", "7.50", "12.50", "0 mons 1 days 0 ns"),
        ("1b7a3c5e-1f2d-4e6a-9b8c-7d6e5f4a3b2c", "\\x61", "8.00", None, None),
    ]
    assert frame["occurred_at"].to_list() == [datetime(2026, 3, 30, 10, tzinfo=UTC), None]
    assert frame["seen"].to_list() == [None, datetime(2026, 3, 30, 10)]


def test_a_query_source(postgres_uri: str, events_table: str) -> None:
    query = f"SELECT id, user_id, name, ts FROM {events_table} WHERE name = 'login' -- logins"
    source = PostgresSource(_config(query=query), uri=postgres_uri)
    window = ExtractWindow(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC))
    assert sorted(source.read(window).collect()["event_id"].to_list()) == ["1", "3", "5"]


def test_connection_from_the_environment(
    postgres_uri: str, events_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_DSN", postgres_uri)
    source = PostgresSource(_config(table=events_table, dsn_env="WAREHOUSE_DSN"))
    assert source.read(EVERYTHING).collect().height == 4
    monkeypatch.delenv("WAREHOUSE_DSN")
    with pytest.raises(SourceError, match="set the environment variable WAREHOUSE_DSN"):
        PostgresSource(_config(table=events_table, dsn_env="WAREHOUSE_DSN")).read(EVERYTHING)


def test_errors_name_the_source_and_never_the_password(postgres_uri: str) -> None:
    password = urlsplit(postgres_uri).password
    assert password
    wrong = postgres_uri.replace(password, "not-the-password-42")
    with pytest.raises(SourceError, match=r"source 'warehouse' \(postgres t\).*check") as raised:
        PostgresSource(_config(table="t"), uri=wrong).read(EVERYTHING)
    assert "not-the-password-42" not in str(raised.value)
    assert raised.value.__cause__ is None
    with pytest.raises(SourceError, match=r"source 'warehouse'.*no_such_table") as raised:
        PostgresSource(_config(table="no_such_table"), uri=postgres_uri).read(EVERYTHING)
    assert password not in str(raised.value)
