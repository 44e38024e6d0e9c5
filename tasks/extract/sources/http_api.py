"""HTTP API source: a paginated JSON events endpoint, read page by page with a cursor.

`GET <url>?limit=N&since=<iso>&until=<iso>[&cursor=C]` -> `{"events": [...], "next_cursor": C}`.
A request is retried by the project's HTTP retry policy (`tasks.retry`: transport errors,
5xx, 408, 425, 429; waiting `Retry-After` when the server says, else an exponential backoff)
with the same cursor, so a retried page is neither lost nor counted twice. Any other 4xx
stops the extraction with a clear error.
"""

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import polars as pl
from pydantic import SecretStr

from scoring.schema import EVENT_COLUMN_NAMES
from tasks.extract.files import extras_as_text
from tasks.extract.sources.base import (
    ExtractWindow,
    SourceError,
    SourceUnavailable,
    in_window,
    raw_event_frame,
)
from tasks.extract.sources.config import HttpSourceConfig
from tasks.retry import HttpRetryPolicy, how_often, send_with_retries, worth_retrying
from tasks.secrets import SecretNotFoundError, redact, resolve_secret


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class HttpSource:
    """Events from a paginated HTTP API."""

    def __init__(
        self,
        config: HttpSourceConfig,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = config.name
        self.config = config
        self._client = client or httpx.Client(timeout=config.timeout_s, follow_redirects=True)
        self._sleep = sleep
        self._token: SecretStr | None = None
        self.requests = 0
        """Requests sent (retries included), for the run report."""

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        secret = self.config.token_secret()
        if secret is not None:
            if self._token is None:
                try:
                    self._token = resolve_secret(secret)
                except SecretNotFoundError as error:
                    raise SourceError(
                        f"source {self.name!r}: no API token: {error}; set `token_env` or "
                        "`token_block` to where it is kept"
                    ) from None
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return headers

    def _get(self, parameters: dict[str, str]) -> httpx.Response:
        self.requests += 1
        return self._client.get(self.config.url, params=parameters, headers=self._headers())

    def page(self, parameters: dict[str, str]) -> tuple[pl.DataFrame | None, str | None]:
        """One page of the API as (records as text columns, next cursor)."""
        config = self.config
        policy = HttpRetryPolicy(config.max_retries, config.backoff_s, config.max_backoff_s)
        try:
            response = send_with_retries(lambda: self._get(parameters), policy, self._sleep)
        except httpx.TimeoutException:
            problem = f"no answer within {config.timeout_s} s"
        except httpx.TransportError as error:
            problem = f"connection failed: {error}"
        else:
            if worth_retrying(response):
                problem = f"HTTP {response.status_code}"
            elif response.is_error:
                # the body may echo the request (a 401 quoting its Authorization header)
                raise SourceError(
                    f"source {self.name!r}: {config.endpoint} answered HTTP "
                    f"{response.status_code} {response.reason_phrase}: "
                    f"{redact(response.text)[:200]!r}; check the URL, the token "
                    f"({config.token_env or config.token_block or 'none configured'}) and the "
                    "parameters"
                )
            else:
                return self._records_page(response)
        raise SourceUnavailable(
            f"source {self.name!r}: {config.endpoint} failed {how_often(config.max_retries + 1)}, "
            f"last: {problem}; check the service status or raise `max_retries`"
        )

    def _records_page(self, response: httpx.Response) -> tuple[pl.DataFrame | None, str | None]:
        # parsed by Polars straight from the bytes: ten times faster than Python dicts
        field, next_field = self.config.records_field, self.config.next_cursor_field
        try:
            body = pl.read_json(io.BytesIO(response.content), infer_schema_length=None)
        except pl.exceptions.PolarsError as error:
            raise SourceError(
                f"source {self.name!r}: {self.config.endpoint} did not answer a JSON object: "
                f"{error}"
            ) from error
        records_type = body.schema.get(field)
        if body.height != 1 or not isinstance(records_type, pl.List):
            raise SourceError(
                f"source {self.name!r}: {self.config.endpoint} answered without a {field!r} list; "
                "set `records_field` to the field that holds the events"
            )
        cursor = body[next_field][0] if next_field in body.columns else None
        cursor = None if cursor in (None, "") else str(cursor)
        if isinstance(records_type.inner, pl.Null) or body[field].list.len()[0] == 0:
            return None, cursor
        if not isinstance(records_type.inner, pl.Struct):
            raise SourceError(
                f"source {self.name!r}: the {field!r} of {self.config.endpoint} are not JSON "
                "objects"
            )
        records = body.select(pl.col(field).explode()).unnest(field)
        event_fields = [self.config.source_column(name) for name in EVENT_COLUMN_NAMES]
        if nested := [n for n, t in records.schema.items() if t.is_nested() and n in event_fields]:
            raise SourceError(
                f"source {self.name!r}: field {nested[0]!r} of the {field!r} of "
                f"{self.config.endpoint} holds JSON objects or arrays; an event's id, customer, "
                "type and time are strings or numbers"
            )
        # other nested values as their JSON text, as NDJSON files keep them
        return extras_as_text(records).with_columns(pl.all().cast(pl.String)), cursor

    def pages(self, window: ExtractWindow) -> list[pl.DataFrame]:
        """Every page of the window as a text frame, following the cursor to the last page."""
        config = self.config
        parameters = {config.limit_param: str(config.page_size)}
        parameters[config.until_param] = _iso(window.end)
        if window.start is not None:
            parameters[config.since_param] = _iso(window.start)
        frames: list[pl.DataFrame] = []
        cursor: str | None = None
        while True:
            records, cursor = self.page(
                parameters | ({config.cursor_param: cursor} if cursor else {})
            )
            if records is not None:
                frames.append(records)
            if not cursor:
                return frames

    def read(self, window: ExtractWindow) -> pl.LazyFrame:
        pages = self.pages(window)
        frame = pl.concat(pages, how="diagonal_relaxed") if pages else pl.DataFrame()
        origin = f"http:{self.name}"
        return in_window([raw_event_frame(frame, origin, self.config.columns, self.name)], window)

    def close(self) -> None:
        self._client.close()
