"""HTTP API source: a paginated JSON events endpoint, read page by page with a cursor.

`GET <url>?limit=N&since=<iso>&until=<iso>[&cursor=C]` -> `{"events": [...], "next_cursor": C}`.
A request that times out or is answered 429 / 5xx is retried (the same cursor again, so a
retried page is neither lost nor counted twice), waiting `Retry-After` when the server says,
else an exponential backoff. Any other 4xx stops the extraction with a clear error.
"""

import io
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import polars as pl

from tasks.sources.base import (
    ExtractWindow,
    SourceError,
    SourceUnavailable,
    in_window,
    raw_event_frame,
)
from tasks.sources.config import HttpSourceConfig

RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _text_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """JSON records as text columns, typed the way the NDJSON file reader types them."""
    text = "\n".join(json.dumps(r) for r in records).encode()
    frame = pl.read_ndjson(io.BytesIO(text), infer_schema_length=None)
    return frame.with_columns(pl.all().cast(pl.String))


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
        self.requests = 0
        """Requests sent (retries included), for the run report."""

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.config.token_env:
            token = os.environ.get(self.config.token_env)
            if not token:
                raise SourceError(
                    f"source {self.name!r}: the environment variable {self.config.token_env} "
                    "(the API token) is not set"
                )
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = self.config.backoff_s * 2**attempt
        wait = retry_after if retry_after is not None else backoff
        return min(wait, self.config.max_backoff_s)

    def page(self, parameters: dict[str, str]) -> dict[str, Any]:
        """One page of the API, retried on timeouts, 429 and 5xx."""
        problem = ""
        for attempt in range(self.config.max_retries + 1):
            self.requests += 1
            retry_after = None
            try:
                response = self._client.get(
                    self.config.url, params=parameters, headers=self._headers()
                )
            except httpx.TimeoutException:
                problem = f"no answer within {self.config.timeout_s} s"
            except httpx.TransportError as error:
                problem = f"connection failed: {error}"
            else:
                if response.status_code in RETRIED_STATUSES:
                    problem = f"HTTP {response.status_code}"
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                elif response.is_error:
                    raise SourceError(
                        f"source {self.name!r}: {self.config.url} answered HTTP "
                        f"{response.status_code} {response.reason_phrase}: "
                        f"{response.text[:200]!r}; check the URL, the token "
                        f"({self.config.token_env or 'none configured'}) and the parameters"
                    )
                else:
                    return self._records_page(response)
            if attempt < self.config.max_retries:
                self._sleep(self._delay(attempt, retry_after))
        raise SourceUnavailable(
            f"source {self.name!r}: {self.config.url} failed {self.config.max_retries + 1} "
            f"times, last: {problem}; check the service status or raise `max_retries`"
        )

    def _records_page(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as error:
            raise SourceError(
                f"source {self.name!r}: {self.config.url} did not answer JSON: {error}"
            ) from error
        if not isinstance(body, dict) or not isinstance(body.get(self.config.records_field), list):
            raise SourceError(
                f"source {self.name!r}: {self.config.url} answered without a "
                f"{self.config.records_field!r} list; set `records_field` to the field that "
                "holds the events"
            )
        return body

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
            page = self.page(parameters | ({config.cursor_param: cursor} if cursor else {}))
            if records := page[config.records_field]:
                frames.append(_text_frame(records))
            cursor = page.get(config.next_cursor_field)
            if not cursor:
                return frames

    def read(self, window: ExtractWindow) -> pl.LazyFrame:
        pages = self.pages(window)
        frame = pl.concat(pages, how="diagonal_relaxed") if pages else pl.DataFrame()
        origin = f"http:{self.name}"
        return in_window([raw_event_frame(frame, origin, self.config.columns, self.name)], window)

    def close(self) -> None:
        self._client.close()
