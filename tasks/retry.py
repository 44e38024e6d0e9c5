"""Retries only where they help, with one rule per kind of call.

Prefect task retries: transient I/O errors (a flaky network file system, a dropped connection,
a timeout) are retried with backoff; a bad file, bad data or a bad configuration fails at
once, since retrying cannot fix it.

HTTP requests (the events API source, the webhook): one policy, on tenacity. Transport errors
(timeouts included), 5xx, 408, 425 and 429 are retried; any other answer is returned at once.
The wait before a retry is the server's `Retry-After` (seconds or an HTTP date) when it sends
one, else `backoff_s * 2**(attempt - 1)`, and never longer than `max_wait_s`.
"""

import errno
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import tenacity

TRANSIENT_ERRNOS = frozenset(
    {
        errno.EIO,
        errno.EAGAIN,
        errno.ETIMEDOUT,
        errno.ECONNRESET,
        errno.ECONNREFUSED,
        errno.ESTALE,
        errno.EBUSY,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
    }
)
BACKOFF_SECONDS = [1, 4, 16]
"""Delays before the 1st, 2nd and 3rd retry of a Prefect task."""
RETRIED_STATUSES = frozenset({408, 425, 429})
"""Client-error statuses a retry may cure (with every 5xx); others are the server saying no."""


def how_often(count: int) -> str:
    """`once`, `2 times`: how many times something was tried, as a sentence says it."""
    return "once" if count == 1 else f"{count:,} times"


def is_transient(error: BaseException | None) -> bool:
    """True for errors worth retrying: timeouts, connection errors, transient OS errors,
    also when wrapped (a clear input error raised `from` a transient cause)."""
    while error is not None:
        if isinstance(error, TimeoutError | ConnectionError):
            return True
        if isinstance(error, OSError) and error.errno in TRANSIENT_ERRNOS:
            return True
        error = error.__cause__
    return False


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry the task only if it failed transiently."""
    try:
        state.result()
    except Exception as error:
        return is_transient(error)
    return False


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


def worth_retrying(response: httpx.Response) -> bool:
    """A 5xx, 408, 425 or 429 answer: the same request may succeed later."""
    return response.status_code >= 500 or response.status_code in RETRIED_STATUSES


@dataclass(frozen=True)
class HttpRetryPolicy:
    """How often and how long to retry one HTTP request."""

    retries: int
    """Retries after the first attempt."""
    backoff_s: float
    """Wait before the first retry when the server sends no Retry-After; doubled each time."""
    max_wait_s: float = 60.0
    """Longest wait before a retry, Retry-After included."""

    def wait_seconds(self, state: tenacity.RetryCallState) -> float:
        """Retry-After of the last answer if it has one, else the doubling backoff."""
        outcome = state.outcome
        retry_after = None
        if outcome is not None and not outcome.failed:
            retry_after = retry_after_seconds(outcome.result().headers.get("Retry-After"))
        if retry_after is None:
            retry_after = self.backoff_s * 2 ** (state.attempt_number - 1)
        return min(retry_after, self.max_wait_s)


def send_with_retries(
    send: Callable[[], httpx.Response],
    policy: HttpRetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """The answer to `send()`, sent again while the policy says so: the first answer not
    worth retrying, or the last one once the retries are spent. Raises the last transport
    error when no attempt was answered."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.retries + 1),
        wait=policy.wait_seconds,
        retry=(
            tenacity.retry_if_exception_type(httpx.TransportError)
            | tenacity.retry_if_result(worth_retrying)
        ),
        sleep=sleep,
        retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
    )
    return retrying(send)


TRANSIENT_RETRIES: dict[str, Any] = {
    "retries": len(BACKOFF_SECONDS),
    "retry_delay_seconds": BACKOFF_SECONDS,
    "retry_condition_fn": retry_transient,
}
"""A Prefect task's retry options (`@task(**TRANSIENT_RETRIES)`): retried after 1, 4 and 16 s,
only when it failed transiently (is_transient)."""
