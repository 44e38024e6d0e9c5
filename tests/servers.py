"""Real servers for the source tests and the benchmark, started and stopped by the caller:
PostgreSQL (Debian binaries, run as the `postgres` user when we are root), moto's S3 server
and a small paginated events API that throttles and fails on purpose."""

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------- PostgreSQL


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server binaries (Debian layout), if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL server on 127.0.0.1 and a free port; yields its URI."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError(
            "PostgreSQL server binaries not found: run `make system-deps-postgresql`"
        )
    as_root = os.geteuid() == 0
    runner = ["runuser", "-u", "postgres", "--"] if as_root else []
    directory = Path(tempfile.mkdtemp(prefix="engage-pg-"))
    if as_root:
        shutil.chown(directory, "postgres", "postgres")
    data, port = directory / "data", free_port()
    password = "s3cret-pw"
    (directory / "pw").write_text(password)
    if as_root:
        shutil.chown(directory / "pw", "postgres", "postgres")
    subprocess.run(
        [*runner, str(binaries / "initdb"), "-D", str(data), "-U", "engage", "-A", "scram-sha-256",
         f"--pwfile={directory / 'pw'}", "--no-sync", "-E", "UTF8"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*runner, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l",
         str(directory / "server.log"), "-w", "-t", "60", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql://engage:{password}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*runner, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(directory, ignore_errors=True)


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
        self._server: ThreadingHTTPServer | None = None
        self._moments: list[datetime | None] | None = None
        self._matching: dict[tuple[str | None, str | None, int], list[dict[str, Any]]] = {}

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/events"

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

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()
