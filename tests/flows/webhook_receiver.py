"""A local webhook receiver for delivery tests: records every POST, answers 500 to its first
`failures` requests and `reject_status` to the keys in `rejected`."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    """What the receiver got: (status answered, Idempotency-Key, JSON body) per request."""

    failures: int = 0
    rejected: set[str] = field(default_factory=set)
    reject_status: int = 400
    requests: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

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


@contextmanager
def webhook_receiver(failures: int = 0) -> Iterator[tuple[Receiver, str]]:
    """Run a receiver on a free 127.0.0.1 port; yields it and its URL."""
    state = Receiver(failures=failures)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status = state.answer(self.headers["Idempotency-Key"], body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
