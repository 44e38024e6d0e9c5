"""Deliver a run's follow-up actions: a CSV/Parquet drop for CRM import, and a JSON webhook
with retries and backoff, an idempotency key per action, and a ledger of what was delivered
so that a retried or re-run delivery never notifies twice.

The webhook URL is a secret (credentials or a secret path in it): the ledger names it by a
fingerprint, messages by its scheme and host only (`tasks.secrets`)."""

import fcntl
import hashlib
import json
import re
import shutil
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pyarrow.parquet as pq
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from scoring.followup_config import DeliveryConfig
from tasks.publish.write import to_arrow
from tasks.retry import HttpRetryPolicy, send_with_retries
from tasks.secrets import as_secret, redact, redacted_url, scrubbed_errors, secret_fingerprint

DELIVERIES_DIR = "deliveries"
WEBHOOK_LEDGER = "webhook_ledger.jsonl"
DROP_DIR = "crm_drop"
BY_OWNER_DIR = "by_owner"
UNASSIGNED = "unassigned"
"""The per-owner drop file of actions whose customer has no account owner."""
IDEMPOTENCY_HEADER = "Idempotency-Key"
FORMULA_START = r"^[=+\-@\t\r]"
"""A CSV cell starting so is a formula to spreadsheets (OWASP CSV injection)."""
WEBHOOK_MAX_WAIT_S = 60.0
"""Longest wait before a retried POST, a receiver's Retry-After included."""


class WebhookDeliveryError(RuntimeError):
    """Some actions could not be delivered after every retry (they stay out of the ledger)."""


@dataclass(frozen=True)
class WebhookReport:
    """What a webhook delivery did."""

    endpoint: str
    """The webhook's scheme and host (its URL is a secret)."""
    sent: list[str] = field(default_factory=list)
    already_delivered: list[str] = field(default_factory=list)
    attempts: int = 0


def ledger_path(output: str | Path) -> Path:
    """The webhook delivery ledger: one JSON line per delivered action, next to the outputs."""
    return Path(output) / DELIVERIES_DIR / WEBHOOK_LEDGER


def delivered_action_ids(ledger: Path, url: str) -> set[str]:
    """Action ids already delivered to `url` (a torn last line is ignored). Entries name the
    URL by its fingerprint; those of earlier versions by the URL itself."""
    if not ledger.exists():
        return set()
    fingerprint = secret_fingerprint(url)
    delivered = set()
    for line in ledger.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("url_fingerprint") == fingerprint or entry.get("url") == url:
            delivered.add(entry["action_id"])
    return delivered


def record_delivery(ledger: Path, action_id: str, url: str, attempts: int, status: int) -> None:
    """Append one delivered action to the ledger, flushed to disk before the next POST."""
    ledger.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "action_id": action_id,
        "endpoint": redacted_url(url),
        "url_fingerprint": secret_fingerprint(url),
        "status": status,
        "attempts": attempts,
        "delivered_at": datetime.now(UTC).isoformat(),
    }
    with ledger.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
        handle.flush()


@contextmanager
def ledger_lock(ledger: Path) -> Iterator[None]:
    """Hold an exclusive lock on the ledger: two deliveries of the same output (a triggered and
    a manual run) take turns, so the second sees what the first delivered."""
    ledger.parent.mkdir(parents=True, exist_ok=True)
    with (ledger.parent / f"{ledger.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def webhook_payload(action: dict[str, Any]) -> dict[str, Any]:
    """Slack-compatible JSON: `text` is the formatted message, `action` the whole row."""
    return {
        "text": action["message"],
        "action": {
            key: value.isoformat() if isinstance(value, date) else value
            for key, value in action.items()
        },
    }


def post_with_retries(
    client: httpx.Client,
    url: str,
    payload: dict[str, Any],
    idempotency_key: str,
    delivery: DeliveryConfig,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, int]:
    """POST until a 2xx answer, retried by the HTTP retry policy (tasks.retry: transport
    errors, 5xx, 408/425/429; Retry-After, else backoff_seconds x 2**(attempt - 1), at most
    WEBHOOK_MAX_WAIT_S). Returns (status, attempts).

    Every attempt carries the same Idempotency-Key, so a receiver that got a request whose
    answer was lost can recognise the retry.
    """
    attempts = 0

    def post() -> httpx.Response:
        nonlocal attempts
        attempts += 1
        return client.post(url, json=payload, headers={IDEMPOTENCY_HEADER: idempotency_key})

    policy = HttpRetryPolicy(delivery.retries, delivery.backoff_seconds, WEBHOOK_MAX_WAIT_S)
    try:
        response = send_with_retries(post, policy, sleep)
    except httpx.TransportError as error:
        problem = f"{type(error).__name__}: {redact(str(error))}"
    else:
        if response.is_success:
            return response.status_code, attempts
        problem = f"HTTP {response.status_code}"
    raise WebhookDeliveryError(
        f"{redacted_url(url)}: action {idempotency_key} not delivered ({problem})"
    )


def spreadsheet_safe(actions: pl.DataFrame) -> pl.DataFrame:
    """The actions with every text cell that a spreadsheet or CRM import would run as a
    formula (starting with =, +, -, @, tab or carriage return) prefixed with a single quote,
    as OWASP advises against CSV injection; other cells, numbers included, unchanged."""
    return actions.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA_START))
        .then(pl.concat_str(pl.lit("'"), pl.col(name)))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in actions.schema.items()
        if dtype == pl.String
    )


def read_actions(actions_file: str | Path) -> pl.DataFrame:
    """The actions of a run the delivery sends: the rows with delivered = true (the follow-up
    step decided them; queued flags resolved before delivery are only recorded)."""
    return pl.read_parquet(actions_file, glob=False).filter(pl.col("delivered"))


def owner_file_stem(owner: str | None) -> str:
    """A file name for an account owner's drop: the name as lowercase ASCII words joined by
    `-` (at most 40 characters), then `-` and the first 8 hex digits of the sha256 of the
    exact name ("Ada Moreau" -> "ada-moreau-<8 hex>"); `unassigned` without an owner."""
    if owner is None:
        return UNASSIGNED
    ascii_name = unicodedata.normalize("NFKD", owner).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    digest = hashlib.sha256(owner.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else digest


def actions_by_owner(actions: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The actions split per account owner, by file stem (owner_file_stem); two owners that
    would share a file are an error, never a merged file."""
    parts: dict[str, pl.DataFrame] = {}
    owners: dict[str, str | None] = {}
    for (owner,), part in actions.group_by("account_owner", maintain_order=True):
        stem = owner_file_stem(owner)
        if stem in owners:
            raise ValueError(f"owners {owners[stem]!r} and {owner!r} map to one file {stem}")
        owners[stem] = owner
        parts[stem] = part
    return dict(sorted(parts.items()))


def write_drop_file(actions: pl.DataFrame, target: Path, file_format: str) -> None:
    """One drop file, swapped in whole: CSV with formula cells escaped, or Parquet as is."""
    partial = target.with_suffix(target.suffix + ".partial")
    if file_format == "csv":  # for spreadsheets and CRM imports: no formula runs
        spreadsheet_safe(actions).write_csv(partial)
    else:
        pq.write_table(to_arrow(actions, None, "actions"), partial, compression="zstd")
    partial.replace(target)


@task(name="deliver-webhook", cache_policy=NO_CACHE, persist_result=False)
def deliver_to_webhook(
    actions_file: str, webhook_url: SecretStr, delivery: DeliveryConfig, output: str
) -> WebhookReport:
    """POST every action not yet in the ledger for the webhook, one request per action; each
    success is recorded before the next. Raises WebhookDeliveryError after trying them all
    if any failed (a re-run then sends only those)."""
    logger = get_run_logger()
    ledger = ledger_path(output)
    url = as_secret(webhook_url.get_secret_value()).get_secret_value()
    sent, skipped, failures, attempts_total = [], [], [], 0
    with scrubbed_errors():  # what fails here (the run's state) must not quote the URL
        with ledger_lock(ledger), httpx.Client(timeout=delivery.timeout_seconds) as client:
            done = delivered_action_ids(ledger, url)
            for action in read_actions(actions_file).to_dicts():
                action_id = action["action_id"]
                if action_id in done:
                    skipped.append(action_id)
                    continue
                try:
                    status, attempts = post_with_retries(
                        client, url, webhook_payload(action), action_id, delivery
                    )
                except WebhookDeliveryError as error:
                    failures.append(str(error))
                    continue
                attempts_total += attempts
                record_delivery(ledger, action_id, url, attempts, status)
                sent.append(action_id)
        logger.info("webhook: %d sent, %d already delivered", len(sent), len(skipped))
        if failures:
            raise WebhookDeliveryError(
                f"{len(failures)} action(s) not delivered (re-run to retry them): "
                + "; ".join(failures)
            )
    return WebhookReport(redacted_url(url), sent, skipped, attempts_total)


@task(name="drop-for-crm", cache_policy=NO_CACHE, persist_result=False)
def drop_for_crm(
    actions_file: str, drop_dir: str, run_date: date, formats: tuple[str, ...]
) -> list[str]:
    """Write the run's delivered actions as `<drop_dir>/run_date=…/actions.csv|parquet` for
    CRM import, and one file per account owner under `by_owner/` (owner_file_stem); a re-run
    replaces them all. The CSV escapes formula cells; the Parquet keeps every text."""
    actions = read_actions(actions_file)
    directory = Path(drop_dir) / f"run_date={run_date.isoformat()}"
    directory.mkdir(parents=True, exist_ok=True)
    by_owner = actions_by_owner(actions)
    owners_partial = directory / f"{BY_OWNER_DIR}.partial"
    shutil.rmtree(owners_partial, ignore_errors=True)
    owners_partial.mkdir()
    written = []
    for file_format in formats:
        target = directory / f"actions.{file_format}"
        write_drop_file(actions, target, file_format)
        written.append(str(target))
        for stem, part in by_owner.items():
            write_drop_file(part, owners_partial / f"{stem}.{file_format}", file_format)
    shutil.rmtree(directory / BY_OWNER_DIR, ignore_errors=True)  # owners of an earlier run go
    owners_partial.rename(directory / BY_OWNER_DIR)
    written += [str(path) for path in sorted((directory / BY_OWNER_DIR).iterdir())]
    return written
