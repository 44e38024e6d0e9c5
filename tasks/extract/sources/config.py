"""Source configuration: the optional `sources` section of the YAML configuration.

```yaml
sources:
  warehouse:                    # the name used by `engage run --source warehouse`
    kind: postgres
    table: analytics.events
    columns: {user_id: customer_id, name: event_type, ts: occurred_at}
```

Frozen pydantic models (extra keys are errors), also the typed `source` parameter of the flow.
Secrets never live here: a source names the environment variable or Prefect Secret block that
holds each (`tasks.secrets.SecretRef`), resolved only when it connects.
"""

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scoring.secret_names import BlockName, EnvironmentVariableName
from tasks.secrets import SecretRef

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
"""A plain SQL identifier (quoted anyway when used); anything else is refused."""


class _SourceBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="the source's name (the key under `sources`); names its watermark file",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="source column -> event column, e.g. {user_id: customer_id, ts: occurred_at}",
    )
    incremental: bool = Field(
        True, description="read only what arrived since the last published run (+ lookback)"
    )
    lookback_days: int = Field(
        3, ge=0, le=366, description="days re-read before the watermark to catch late events"
    )
    customers: str | None = Field(
        None,
        description="the customers table of this source's customers (CSV/NDJSON/Parquet path); "
        "used when the run names none, before ENGAGE_CUSTOMERS",
    )

    @model_validator(mode="after")
    def _one_source_column_per_event_column(self) -> "_SourceBase":
        targets = list(self.columns.values())
        repeated = sorted({t for t in targets if targets.count(t) > 1})
        if repeated:
            raise ValueError(f"columns: several source columns map onto {', '.join(repeated)}")
        return self

    def source_column(self, event_column: str) -> str:
        """The source's name for an event column (itself when it is not mapped)."""
        return next((s for s, e in self.columns.items() if e == event_column), event_column)


class FileSourceConfig(_SourceBase):
    """Files (CSV, NDJSON, Parquet, optionally .gz): a local path, directory or glob, or an
    `s3://bucket/prefix/*.parquet` URI. S3 credentials come from the environment
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE) or from a
    Prefect Secret block holding fsspec options (`{"key": ..., "secret": ...}`)."""

    kind: Literal["files"] = "files"
    path: str = Field(description="path, directory or glob; s3://bucket/prefix/*.csv for S3")
    endpoint_url: str | None = Field(
        None,
        description="S3-compatible endpoint (MinIO, moto, ...); default: ENGAGE_S3_ENDPOINT_URL "
        "or AWS_ENDPOINT_URL from the environment, else AWS S3",
    )
    skip_old_files: bool = Field(
        True,
        description="in an incremental run, skip files last modified before the window "
        "starts: they hold only older events (events are written after they happen)",
    )
    credentials_block: BlockName | None = Field(
        None,
        description="name of a Prefect Secret block whose value is a JSON object of fsspec "
        'storage options, e.g. {"key": ..., "secret": ...}; default: the environment',
    )

    def credentials_secret(self) -> SecretRef | None:
        """Where the storage credentials are kept, if not in the environment."""
        return SecretRef(block=self.credentials_block) if self.credentials_block else None


class PostgresSourceConfig(_SourceBase):
    """A PostgreSQL table or query, the time filter pushed down as bound parameters."""

    kind: Literal["postgres"] = "postgres"
    table: str | None = Field(None, description="`table` or `schema.table`")
    query: str | None = Field(None, description="a SELECT; the time filter is applied around it")
    dsn_env: EnvironmentVariableName = Field(
        "ENGAGE_POSTGRES_DSN",
        description="environment variable holding the connection URI (postgresql://...)",
    )
    secret_block: BlockName | None = Field(
        None, description="name of a Prefect Secret block holding the connection URI instead"
    )

    def dsn_secret(self) -> SecretRef:
        """Where the connection URI is kept: the Secret block if named, else `dsn_env`."""
        if self.secret_block:
            return SecretRef(block=self.secret_block)
        return SecretRef(env=self.dsn_env)

    @model_validator(mode="after")
    def _table_or_query(self) -> "PostgresSourceConfig":
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table` or `query`")
        if self.table is not None:
            bad = [p for p in self.table.split(".") if not IDENTIFIER.match(p)]
            if bad or self.table.count(".") > 1:
                raise ValueError(
                    f"table {self.table!r} is not `table` or `schema.table` made of letters, "
                    "digits and underscores"
                )
        if self.query is not None and ";" in self.query.strip().rstrip(";"):
            raise ValueError("query must be a single SELECT statement")
        time_column = self.source_column("occurred_at")
        if not IDENTIFIER.match(time_column):
            raise ValueError(f"time column {time_column!r} is not a plain identifier")
        return self


class HttpSourceConfig(_SourceBase):
    """A paginated JSON events endpoint: `GET url?limit=..&since=..&until=..&cursor=..`
    answering `{"events": [...], "next_cursor": "..." | null}` (field names configurable)."""

    kind: Literal["http"] = "http"
    url: str = Field(pattern=r"^https?://", description="the events endpoint")
    page_size: int = Field(1000, ge=1, description="records asked for per request")
    records_field: str = "events"
    next_cursor_field: str = "next_cursor"
    cursor_param: str = "cursor"
    limit_param: str = "limit"
    since_param: str = "since"
    until_param: str = "until"
    token_env: EnvironmentVariableName | None = Field(
        None, description="environment variable holding a bearer token (sent, never logged)"
    )
    token_block: BlockName | None = Field(
        None, description="name of a Prefect Secret block holding the bearer token instead"
    )
    timeout_s: float = Field(30.0, gt=0, description="per-request timeout")
    max_retries: int = Field(5, ge=0, description="retries of one request on 429/5xx/timeouts")
    backoff_s: float = Field(1.0, ge=0, description="first retry delay, doubled each retry")
    max_backoff_s: float = Field(60.0, ge=0, description="longest wait between retries")

    @model_validator(mode="after")
    def _one_token_source(self) -> "HttpSourceConfig":
        if self.token_env and self.token_block:
            raise ValueError("give at most one of `token_env` or `token_block`")
        if urlsplit(self.url).password:  # the message must not quote it
            raise ValueError(
                "url holds a password (user:password@host): send the credential as a bearer "
                "token from `token_env` or `token_block` instead"
            )
        return self

    @property
    def endpoint(self) -> str:
        """The url as messages show it: without its query, which may carry a key."""
        return urlsplit(self.url)._replace(query="", fragment="").geturl()

    def token_secret(self) -> SecretRef | None:
        """Where the bearer token is kept (None: the API needs none)."""
        if self.token_block:
            return SecretRef(block=self.token_block)
        return SecretRef(env=self.token_env) if self.token_env else None


SourceConfig = Annotated[
    FileSourceConfig | PostgresSourceConfig | HttpSourceConfig, Field(discriminator="kind")
]


class _Sources(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)
    sources: dict[str, SourceConfig]


def sources_from_document(document: dict[str, Any]) -> dict[str, SourceConfig]:
    """The `sources` section of a configuration document, each named by its key.

    Raises ValueError naming the key when a source is invalid.
    """
    section = document.get("sources") or {}
    if not isinstance(section, dict):
        raise ValueError("sources: must be a mapping of source name -> settings")
    named = {
        name: {**settings, "name": name} if isinstance(settings, dict) else settings
        for name, settings in section.items()
    }
    try:
        return dict(_Sources.model_validate({"sources": named}).sources)
    except ValidationError as error:
        problems = "; ".join(
            ".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in error.errors()
        )
        raise ValueError(problems) from error
