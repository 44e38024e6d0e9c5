"""PostgreSQL source: a table or a query, read as Arrow record batches through ADBC.

The time filter is pushed down to the database as bound parameters (`$1`, `$2`), never
formatted into the SQL; table and column names are validated identifiers, double-quoted.
The connection URI is a secret (`tasks.secrets`: an environment variable or a Prefect Secret
block), never logged nor put in an error message.
"""

from datetime import datetime
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import SecretStr

from tasks.extract.sources.base import (
    ExtractWindow,
    SourceError,
    SourceUnavailable,
    in_window,
    raw_event_frame,
)
from tasks.extract.sources.config import PostgresSourceConfig
from tasks.secrets import SecretNotFoundError, as_secret, redact, resolve_secret


def quoted(identifier: str) -> str:
    """A (validated) identifier, double-quoted: `schema.table` -> `"schema"."table"`."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in identifier.split("."))


def select_statement(
    config: PostgresSourceConfig, window: ExtractWindow
) -> tuple[str, list[datetime]]:
    """The SELECT of the window's rows and its bound parameters.

    `WHERE (t >= $1 AND t < $2) OR t IS NULL`: rows without a time are read too, so
    validation quarantines them instead of the filter hiding them.
    """
    if config.table:
        relation = quoted(config.table)
    else:  # on its own lines: a trailing `-- comment` in the query cannot swallow the `)`
        relation = f"(\n{(config.query or '').strip().rstrip(';')}\n)"
    time_column = quoted(config.source_column("occurred_at"))
    if window.start is None:
        condition, parameters = f"{time_column} < $1", [window.end]
    else:
        condition = f"({time_column} >= $1 AND {time_column} < $2)"
        parameters = [window.start, window.end]
    sql = f"SELECT * FROM {relation} AS engage_source WHERE {condition} OR {time_column} IS NULL"
    return sql, parameters


def connection_uri(config: PostgresSourceConfig) -> SecretStr:
    """The connection URI from the Prefect Secret block or the environment variable (masked
    from now on in every log record and scrubbed error, its password on its own too)."""
    try:
        return resolve_secret(config.dsn_secret())
    except SecretNotFoundError as error:
        raise SourceError(
            f"source {config.name!r}: no PostgreSQL connection: {error}; set the environment "
            f"variable {config.dsn_env} (postgresql://user:password@host:port/db) or "
            "`secret_block`"
        ) from None


def _arrow_table(reader: Any) -> pa.Table:
    batches = list(reader)
    return pa.Table.from_batches(batches, schema=reader.schema)


DATES = (datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999))
"""The instants a timestamp may hold here: PostgreSQL's `infinity`, `-infinity` and dates before
year 1 reach Arrow as numbers Polars cannot read (it panics); they are read as null."""


def _readable_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A result column in a type Polars reads (it fails on the others, or panics): extension
    types (uuid, numeric, json) as their storage, an interval as text, a timestamp outside
    DATES as null."""
    kind = column.type
    if isinstance(kind, pa.BaseExtensionType):
        return pa.chunked_array([chunk.storage for chunk in column.chunks], kind.storage_type)
    if kind == pa.month_day_nano_interval():
        texts = [None if v is None else f"{v.months} mons {v.days} days {v.nanoseconds} ns"
                 for v in column.to_pylist()]  # fmt: skip
        return pa.chunked_array([pa.array(texts, pa.string())])
    if pa.types.is_timestamp(kind):
        first, last = pa.array(DATES, pa.timestamp(kind.unit)).cast(pa.int64()).to_pylist()
        stored = column.cast(pa.int64())
        outside = pc.or_(pc.less(stored, first), pc.greater(stored, last))
        return pc.if_else(outside, pa.scalar(None, kind), column)
    return column


def readable_frame(table: pa.Table) -> pl.DataFrame:
    """A result set as a Polars frame, each column as PostgreSQL writes it as text where Polars
    has no type for it: a uuid as its canonical text, bytea as `\\x` and hexadecimal digits."""
    uuids = [f.name for f in table.schema if isinstance(f.type, pa.UuidType)]
    columns = [_readable_column(column) for column in table.columns]
    frame = pl.from_arrow(pa.Table.from_arrays(columns, names=table.column_names))
    assert isinstance(frame, pl.DataFrame)  # a table gives a frame
    binary = [name for name, dtype in frame.schema.items() if dtype == pl.Binary]
    hexadecimal = {name: pl.col(name).bin.encode("hex") for name in binary}
    return frame.with_columns(
        *[_uuid_text(hexadecimal[name]).alias(name) for name in uuids],
        *[("\\x" + hexadecimal[name]).alias(name) for name in binary if name not in uuids],
    )


UUID_GROUPS = ((0, 8), (8, 4), (12, 4), (16, 4), (20, 12))


def _uuid_text(digits: pl.Expr) -> pl.Expr:
    """32 hexadecimal digits as 8-4-4-4-12."""
    groups = [digits.str.slice(start, length) for start, length in UUID_GROUPS]
    return pl.concat_str(groups, separator="-")


class PostgresSource:
    """Events in a PostgreSQL table or query."""

    def __init__(self, config: PostgresSourceConfig, uri: str | None = None) -> None:
        self.name = config.name
        self.config = config
        self._uri = as_secret(uri) if uri else None
        """The connection URI given in code (tests, benchmarks), else resolved on fetch."""

    @property
    def origin(self) -> str:
        """Provenance for `source_file`: the source and relation, never the connection."""
        return f"postgres:{self.name}:{self.config.table or 'query'}"

    def fetch(self, window: ExtractWindow) -> pa.Table:
        """The window's rows as Arrow, fetched in record batches."""
        import adbc_driver_postgresql.dbapi as adbc

        uri = (self._uri or connection_uri(self.config)).get_secret_value()
        sql, parameters = select_statement(self.config, window)
        try:
            with adbc.connect(uri) as connection, connection.cursor() as cursor:
                cursor.execute("SET TIME ZONE 'UTC'")
                cursor.execute(sql, parameters)
                return _arrow_table(cursor.fetch_record_batch())
        except Exception as error:  # adbc raises its own DB-API hierarchy
            # a connection problem may pass; a missing table or bad query will not
            transient = type(error).__name__ in ("OperationalError", "InterfaceError")
            raise (SourceUnavailable if transient else SourceError)(
                f"source {self.name!r} (postgres {self.config.table or 'query'}): "
                f"{type(error).__name__}: {' '.join(redact(str(error)).split())}; check the "
                "server is "
                f"reachable, the credentials ({self.config.secret_block or self.config.dsn_env}), "
                f"the table/query and the time column "
                f"{self.config.source_column('occurred_at')!r}"
            ) from None  # the chained error could carry the connection settings

    def read(self, window: ExtractWindow) -> pl.LazyFrame:
        frame = readable_frame(self.fetch(window))
        return in_window(
            [raw_event_frame(frame, self.origin, self.config.columns, self.name)], window
        )

    def close(self) -> None:
        self._uri = None
