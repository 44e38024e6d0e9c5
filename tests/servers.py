"""Test-only servers, started and stopped by the caller: moto's S3 server, a small paginated
events API that throttles and fails on purpose, and a webhook receiver. (PostgreSQL and Prefect
come from deployments/local_stack.py, the harness `make server` uses too.)"""

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from deployments.local_stack import free_port

# ---------------------------------------------------------------- moto S3


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 API server on 127.0.0.1 and a free port; yields its endpoint URL.

    Sets dummy AWS credentials in the environment for the duration (moto accepts any)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION")}  # fmt: skip
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ---------------------------------------------------------------- HTTP


@contextlib.contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 from a daemon thread; yields the base URL. The port is the
    kernel's pick, bound at once (no window in which another process takes it)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ---------------------------------------------------------------- events API


@dataclass
class ApiBehaviour:
    """How the test API misbehaves. Request numbers count every request from 1."""

    throttle_requests: set[int] = field(default_factory=set)
    """answered 429 with Retry-After"""
    retry_after: str = "1"
    failing_requests: set[int] = field(default_factory=set)
    """answered 500"""
    status_override: int | None = None
    """every request answered with this status (e.g. 401)"""
    token: str | None = None
    """when set, requests without `Authorization: Bearer <token>` get 401"""


class EventsApi:
    """A paginated events endpoint over a list of records (`GET /events`).

    Parameters: `limit`, `cursor` (opaque: the offset), `since` / `until` (ISO 8601, filter
    on the record's time field). Records are served in the order given.
    """

    def __init__(self, records: list[dict[str, Any]], time_field: str = "occurred_at") -> None:
        self.records = records
        self.time_field = time_field
        self.behaviour = ApiBehaviour()
        self.requests: list[dict[str, list[str]]] = []
        self._lock = threading.Lock()
        self._base_url: str | None = None
        self._moments: list[datetime | None] | None = None
        self._matching: dict[tuple[str | None, str | None, int], list[dict[str, Any]]] = {}

    @property
    def url(self) -> str:
        assert self._base_url is not None, "not running"
        return f"{self._base_url}/events"

    @staticmethod
    def _moment(value: Any) -> datetime | None:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # naive means UTC

    def matching(self, since: str | None, until: str | None) -> list[dict[str, Any]]:
        """The records of a time window, in order; unreadable times are always served (the
        client's validation flags them). Cached per window: pages reuse it."""
        key = (since, until, len(self.records))
        if key not in self._matching:
            if self._moments is None or len(self._moments) != len(self.records):
                self._moments = [self._moment(r.get(self.time_field)) for r in self.records]
            low = self._moment(since) if since else None
            high = self._moment(until) if until else None
            self._matching[key] = [
                record
                for record, moment in zip(self.records, self._moments, strict=True)
                if moment is None
                or ((low is None or moment >= low) and (high is None or moment < high))
            ]
        return self._matching[key]

    def answer(
        self, query: dict[str, list[str]], headers: Any
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(query)
            number = len(self.requests)
        behaviour = self.behaviour
        if behaviour.status_override is not None:
            return behaviour.status_override, {}, b'{"error": "forbidden on purpose"}'
        if behaviour.token and headers.get("Authorization") != f"Bearer {behaviour.token}":
            return 401, {}, b'{"error": "missing or wrong token"}'
        if number in behaviour.throttle_requests:
            return 429, {"Retry-After": behaviour.retry_after}, b'{"error": "slow down"}'
        if number in behaviour.failing_requests:
            return 500, {}, b'{"error": "failing on purpose"}'
        limit = int(query.get("limit", ["100"])[0])
        offset = int(query.get("cursor", ["0"])[0])
        since, until = query.get("since", [None])[0], query.get("until", [None])[0]
        matching = self.matching(since, until)
        page = matching[offset : offset + limit]
        if hasattr(page, "to_dicts"):  # a Polars frame (the benchmark serves one)
            page = page.to_dicts()
        following = offset + limit if offset + limit < len(matching) else None
        body = {"events": page, "next_cursor": str(following) if following is not None else None}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    @contextlib.contextmanager
    def running(self) -> Iterator["EventsApi"]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/events":
                    self.send_error(404)
                    return
                status, headers, body = api.answer(parse_qs(parts.query), self.headers)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        with http_server(Handler) as self._base_url:
            yield self


# ---------------------------------------------------------------- webhook receiver


@dataclass
class Receiver:
    """What the webhook receiver got: (status answered, Idempotency-Key, JSON body) per request.
    It answers 500 to its first `failures` requests and `reject_status` to the keys in
    `rejected`."""

    failures: int = 0
    rejected: set[str] = field(default_factory=set)
    reject_status: int = 400
    requests: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def answer(self, key: str, body: dict[str, Any]) -> int:
        with self.lock:
            if len(self.requests) < self.failures:
                status = 500
            elif key in self.rejected:
                status = self.reject_status
            else:
                status = 200
            self.requests.append((status, key, body))
            return status

    def accepted(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [(key, body) for status, key, body in self.requests if status == 200]


@contextlib.contextmanager
def webhook_server() -> Iterator[Receiver]:
    """A receiver recording every POST to `<url>`; yields it with its `url` set."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status = state.answer(self.headers["Idempotency-Key"], body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

    with http_server(Handler) as base_url:
        state.url = f"{base_url}/hook"
        yield state
