"""Retries only where they help: transient I/O errors (a flaky network file system, a dropped
connection, a timeout) are retried with backoff; a bad file, bad data or a bad configuration
fails at once, since retrying cannot fix it."""

import errno
from typing import Any

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
"""Delays before the 1st, 2nd and 3rd retry."""


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
