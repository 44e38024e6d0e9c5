"""Secrets: one mechanism for every password, token, key and secret URL the project uses.

A secret comes from an environment variable or a Prefect Secret block (`SecretRef`, in
configuration `{env: NAME}` or `{block: NAME}`), is resolved when it is needed
(`resolve_secret`) and held as pydantic `SecretStr`. Resolving registers it: from then on
every log record of the process (any logger, message, arguments and traceback) has it
replaced by `**********`, `redact(text)` does the same for any text (error messages, response
bodies), and `scrubbed_errors()` does it for the errors leaving a task, whose text Prefect
writes into run states and events on its server. A secret URL's password is registered on its
own too (drivers print it apart), and where a secret URL must be named (a ledger, a message)
it is named by `redacted_url` and `secret_fingerprint`, never by its text.
"""

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from typing import Any, Self
from urllib.parse import quote, quote_plus, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from scoring.secret_names import BlockName, EnvironmentVariableName

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

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    env: EnvironmentVariableName | None = Field(
        None, description="name of the environment variable holding it"
    )
    block: BlockName | None = Field(None, description="name of the Prefect Secret block holding it")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.env is None) == (self.block is None):
            raise ValueError("a secret comes from exactly one of `env` or `block`")
        return self


def _block_value(name: str) -> str:
    from prefect.blocks.system import Secret

    try:
        value: Any = Secret.load(name, _sync=True).get()  # type: ignore[call-arg]
    except ValueError as error:
        raise SecretNotFoundError(
            f"Prefect Secret block {name!r} not found: create it (UI: Blocks > Secret, or "
            f"`Secret(value=...).save({name!r})`)"
        ) from error
    # a block may hold a JSON object (storage options): the caller parses the text
    return value if isinstance(value, str) else json.dumps(value)


def resolve_secret(ref: SecretRef) -> SecretStr:
    """The secret's value as SecretStr, registered for redaction from logs and errors
    (a URL's password on its own too)."""
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if not value:
            raise SecretNotFoundError(f"environment variable {ref.env} is not set (or empty)")
    else:
        assert ref.block is not None
        value = _block_value(ref.block)
    return as_secret(value)


def as_secret(value: str) -> SecretStr:
    """A secret handed over in code (a test, a caller's SecretStr) held like a resolved one:
    registered for redaction, a URL's password on its own too."""
    register_secret(value)
    with contextlib.suppress(ValueError):  # not a URL (a token, a JSON object)
        password = urlsplit(value).password
        if password:
            register_secret(password)
    return SecretStr(value)


def redacted_url(url: str) -> str:
    """A secret URL as it may be shown: scheme and host only (`https://hooks.example.com/…`);
    credentials, path and query can be the secret."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    return f"{parts.scheme}://{host}{port}/…" if parts.scheme and host else MASK


@functools.lru_cache(maxsize=32)
def secret_fingerprint(value: str) -> str:
    """A stable, non-reversible name for a secret (to recognise it again, e.g. the ledger's
    webhook URL): scrypt, slow on purpose, so a weak secret cannot be guessed from it."""
    digest = hashlib.scrypt(value.encode(), salt=b"engage-secret", n=2**14, r=8, p=1, dklen=16)
    return digest.hex()


def register_secret(value: str) -> None:
    """Mask `value` (and its URL-encoded forms) in every later log record and scrubbed error."""
    install_log_redaction()
    if len(value) < MIN_REDACTED_LENGTH:
        return
    with _lock:
        _secrets.update({value, quote(value, safe=""), quote_plus(value)})


URL_PASSWORD = re.compile(r"(?<=://)([^/?#@\s:]*):(?!password@)[^/?#\s]+@")
"""The password of a URL's `user:password@` (a connection URI typed where it does not belong);
the word `password` itself is the placeholder of the messages' examples."""


def redact(text: str) -> str:
    """`text` with every registered secret, and the password of every URL in it, replaced by
    `**********`."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return URL_PASSWORD.sub(rf"\1:{MASK}@", text)


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
    """An error whose text kept a secret after scrubbing; this one carries the scrubbed text."""


def _texts(error: BaseException) -> list[str]:
    """The text of an error and of every error in its chain (cause or context)."""
    texts = []
    current: BaseException | None = error
    while current is not None:
        texts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return texts


@contextlib.contextmanager
def scrubbed_errors() -> Iterator[None]:
    """Errors leave this block without a registered secret in their text (Prefect writes it
    into the run's state message and events on its server).

    An error whose text or chain holds a secret keeps its type (exit codes depend on it) with
    the secret masked in its arguments and its chain dropped; one whose text still holds the
    secret after that (an OSError's filename) becomes a SecretLeakGuardError."""
    try:
        yield
    except Exception as error:
        if all(redact(text) == text for text in _texts(error)):
            raise
        error.args = tuple(redact(a) if isinstance(a, str) else a for a in error.args)
        error.__cause__, error.__context__, error.__suppress_context__ = None, None, True
        if redact(str(error)) != str(error):
            raise SecretLeakGuardError(redact(_texts(error)[0])) from None
        raise
