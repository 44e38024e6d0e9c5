"""Secrets: resolved at run time from a Prefect Secret block or an environment variable, held
as pydantic `SecretStr`, and scrubbed from every log record and from error text.

Sources and notifiers never read a password, token or key themselves: they hold a `SecretRef`
(in configuration: `{env: PGPASSWORD}` or `{block: engage-db-password}`) and call
`resolve_secret(ref)` when they connect. Resolving registers the value, and from then on every
log record of the process (any logger, message, arguments and traceback) has it replaced by
`**********`; `scrubbed_errors(...)` does the same for an exception's text before it leaves
(drivers like to put the DSN, password included, into their errors).
"""

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any, Self
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

MASK = "**********"
MIN_REDACTED_LENGTH = 4
"""Shorter values are not masked in text (masking `"ab"` everywhere would garble the logs)."""

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


class SecretNotFoundError(LookupError):
    """A secret reference that resolves to nothing (unset variable, missing block)."""


class SecretRef(BaseModel):
    """Where a secret comes from: an environment variable or a Prefect Secret block."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str | None = Field(None, description="name of the environment variable holding it")
    block: str | None = Field(None, description="name of the Prefect Secret block holding it")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.env is None) == (self.block is None):
            raise ValueError("a secret comes from exactly one of `env` or `block`")
        return self

    def describe(self) -> str:
        """Where the secret comes from, for error messages (never the value)."""
        return (
            f"environment variable {self.env}"
            if self.env
            else f"Prefect Secret block {self.block!r}"
        )


def _block_value(name: str) -> str:
    from prefect.blocks.system import Secret

    try:
        value: Any = Secret.load(name, _sync=True).get()  # type: ignore[call-arg]
    except ValueError as error:
        raise SecretNotFoundError(
            f"Prefect Secret block {name!r} not found: create it (UI: Blocks > Secret, or "
            f"`Secret(value=...).save({name!r})`)"
        ) from error
    if not isinstance(value, str):
        raise SecretNotFoundError(f"Prefect Secret block {name!r} must hold text, not JSON")
    return value


def resolve_secret(ref: SecretRef) -> SecretStr:
    """The secret's value as SecretStr, registered for redaction from logs and errors."""
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if not value:
            raise SecretNotFoundError(f"environment variable {ref.env} is not set (or empty)")
    else:
        assert ref.block is not None
        value = _block_value(ref.block)
    register_secret(value)
    return SecretStr(value)


def register_secret(value: str) -> None:
    """Mask `value` (and its URL-encoded forms) in every later log record and scrubbed error."""
    install_log_redaction()
    if len(value) < MIN_REDACTED_LENGTH:
        return
    with _lock:
        _secrets.update({value, quote(value, safe=""), quote_plus(value)})


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `**********`."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if not _secrets:
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it later, leave it as is
        return record
    redacted = redact(message)
    if redacted != message:
        record.msg, record.args = redacted, None
    if record.exc_info and record.exc_info[0] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        if redact(text) != text:
            record.exc_info, record.exc_text = None, redact(text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install_log_redaction() -> None:
    """Redact every log record of this process at creation (any logger, any handler,
    Prefect's API log handler included). Idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        create_record = logging.getLogRecordFactory()

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return _redact_record(create_record(*args, **kwargs))

        logging.setLogRecordFactory(redacting_factory)
        _installed = True


class SecretLeakGuardError(RuntimeError):
    """An error whose original text contained a secret; this one carries the scrubbed text."""


@contextlib.contextmanager
def scrubbed_errors(what: str) -> Iterator[None]:
    """Re-raise any exception whose text (or cause chain) contains a registered secret as a
    SecretLeakGuardError with the scrubbed text, `what` naming the source, and no chain."""
    try:
        yield
    except Exception as error:
        texts = []
        current: BaseException | None = error
        while current is not None:
            texts.append(f"{type(current).__name__}: {current}")
            current = current.__cause__ or current.__context__
        if any(redact(t) != t for t in texts):
            raise SecretLeakGuardError(f"{what}: {redact(texts[0])}") from None
        raise
