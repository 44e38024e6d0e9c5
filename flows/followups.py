"""The follow-up flow: deliver a scoring run's actions to the CRM drop and the webhook.

Its deployment is started by the `engage.scoring.completed` event the daily flow emits
(deployments/serve_followups.py, deployments/prefect.yaml).
"""

import contextlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger
from pydantic import SecretStr

from flows.settings import ConfigFileError, load_config
from scoring.config import ScoringConfig
from scoring.followup_config import MASKED_SECRET, DeliveryConfig
from tasks.followups.deliver import (
    DROP_DIR,
    WebhookReport,
    deliver_to_webhook,
    drop_for_crm,
    read_actions,
)
from tasks.messages import one_line
from tasks.publish.runs import manifest_path
from tasks.publish.write import PART_FILE, partition_dir
from tasks.secrets import SecretNotFoundError, SecretRef, as_secret, resolve_secret


@dataclass(frozen=True)
class DeliveryReport:
    """What a follow-up run delivered, and where."""

    run_date: date
    actions: int
    drop_files: list[str]
    webhook: WebhookReport | None


@dataclass(frozen=True)
class RunDelivery:
    """What the daily run's manifest says about delivering its actions: its delivery
    configuration, and the file holding its webhook_url (a secret the manifest keeps masked)."""

    delivery: DeliveryConfig
    webhook_url_file: str | None = None


def run_delivery(output: str, run_date: date) -> RunDelivery:
    """The delivery configuration the daily run used, from its manifest."""
    manifest = manifest_path(output, run_date)
    if not manifest.exists():
        raise FileNotFoundError(
            f"{manifest}: no scoring run for {run_date} under {output}; run the daily flow first"
        )
    recorded = json.loads(manifest.read_text())
    config = ScoringConfig.model_validate(recorded["config"])
    return RunDelivery(config.followup_settings.delivery, recorded.get("webhook_url_file"))


def webhook_secret(webhook_url: SecretStr | SecretRef | None, run: RunDelivery) -> SecretStr | None:
    """The webhook URL, held as a secret: the one given (or where it is kept), else the run's
    configured `webhook_url` (read from its configuration file: configured_webhook), else its
    `webhook_url_env` variable; None when unset."""
    delivery = run.delivery
    if isinstance(webhook_url, SecretRef):
        return resolve_secret(webhook_url)
    if webhook_url is not None:
        return as_secret(webhook_url.get_secret_value())
    if delivery.webhook_url is not None:
        url = delivery.webhook_url.get_secret_value()
        # a manifest written before webhook_url was masked holds the URL itself
        return configured_webhook(run) if url == MASKED_SECRET else as_secret(url)
    with contextlib.suppress(SecretNotFoundError):  # no webhook: the CRM drop only
        return resolve_secret(SecretRef(env=delivery.webhook_url_env))
    return None


def configured_webhook(run: RunDelivery) -> SecretStr:
    """The webhook_url of the configuration file the run read (its manifest keeps the URL
    masked, a secret); SecretNotFoundError, saying what to do, when that file is gone or no
    longer has one."""
    fix = (
        "pass webhook_url to the deliver-followups run, or keep the URL in the environment "
        f"variable {run.delivery.webhook_url_env} (followups.delivery.webhook_url_env)"
    )
    path = run.webhook_url_file
    if path is None:
        raise SecretNotFoundError(
            "the run's configuration (given as an object, not read from a file) has a "
            f"followups.delivery.webhook_url, which its manifest does not keep: {fix}"
        )
    try:
        configured = load_config(path).followup_settings.delivery.webhook_url
    except (OSError, ConfigFileError) as error:
        raise SecretNotFoundError(
            f"{path}: the configuration file holding the run's webhook_url cannot be read "
            f"({one_line(str(error))}): {fix}"
        ) from None
    if configured is None:
        raise SecretNotFoundError(
            f"{path}: the run's configuration file no longer has a "
            f"followups.delivery.webhook_url: {fix}"
        )
    return as_secret(configured.get_secret_value())


@flow(name="deliver-followups", flow_run_name="followups-{run_date}", log_prints=True)
def deliver_followups(
    run_date: date, output: str, webhook_url: SecretStr | SecretRef | None = None
) -> DeliveryReport:
    """Deliver the actions (new / changed / resolved flags) of the run `run_date` under
    `output`: a CSV/Parquet drop for CRM import (also one file per account owner), and one
    JSON POST per action to the webhook. Only the actions the scoring run marked delivered
    are sent: capacity and queueing were decided there.

    `webhook_url` is the webhook's URL (a secret: pass a SecretStr) or where it is kept
    (`{env: NAME}` or `{block: NAME}`, a Prefect Secret block); default: the run's delivery
    config (`webhook_url`, else the environment variable `webhook_url_env`)."""
    logger = get_run_logger()
    run = run_delivery(output, run_date)
    delivery = run.delivery
    actions_file = partition_dir(output, "actions", run_date) / PART_FILE
    if not actions_file.exists():
        raise FileNotFoundError(f"{actions_file}: the run of {run_date} wrote no actions")
    drop_files = drop_for_crm(
        str(actions_file),
        delivery.drop_dir or str(Path(output) / DROP_DIR),
        run_date,
        delivery.drop_formats,
    )
    url = webhook_secret(webhook_url, run)
    webhook = None
    if url:
        webhook = deliver_to_webhook(str(actions_file), url, delivery, output)
    else:
        logger.info("no webhook configured (%s unset): CRM drop only", delivery.webhook_url_env)
    return DeliveryReport(run_date, read_actions(actions_file).height, drop_files, webhook)
