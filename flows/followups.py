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

from scoring.config import ScoringConfig
from scoring.followup_config import DeliveryConfig, FollowupsConfig
from tasks.followups.deliver import (
    DROP_DIR,
    WebhookReport,
    deliver_to_webhook,
    drop_for_crm,
    read_actions,
)
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


def run_config(output: str, run_date: date) -> ScoringConfig:
    """The configuration the daily run used, from its manifest."""
    manifest = manifest_path(output, run_date)
    if not manifest.exists():
        raise FileNotFoundError(
            f"{manifest}: no scoring run for {run_date} under {output}; run the daily flow first"
        )
    return ScoringConfig.model_validate(json.loads(manifest.read_text())["config"])


def webhook_secret(
    webhook_url: SecretStr | SecretRef | None, delivery: DeliveryConfig
) -> SecretStr | None:
    """The webhook URL, held as a secret: the one given (or where it is kept), else the
    delivery config's `webhook_url`, else its `webhook_url_env` variable; None when unset."""
    if isinstance(webhook_url, SecretRef):
        return resolve_secret(webhook_url)
    if webhook_url is not None:
        return as_secret(webhook_url.get_secret_value())
    if delivery.webhook_url:
        return as_secret(delivery.webhook_url)
    with contextlib.suppress(SecretNotFoundError):  # no webhook: the CRM drop only
        return resolve_secret(SecretRef(env=delivery.webhook_url_env))
    return None


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
    delivery = (run_config(output, run_date).followups or FollowupsConfig()).delivery
    actions_file = partition_dir(output, "actions", run_date) / PART_FILE
    if not actions_file.exists():
        raise FileNotFoundError(f"{actions_file}: the run of {run_date} wrote no actions")
    drop_files = drop_for_crm(
        str(actions_file),
        delivery.drop_dir or str(Path(output) / DROP_DIR),
        run_date,
        delivery.drop_formats,
    )
    url = webhook_secret(webhook_url, delivery)
    webhook = None
    if url:
        webhook = deliver_to_webhook(str(actions_file), url, delivery, output)
    else:
        logger.info("no webhook configured (%s unset): CRM drop only", delivery.webhook_url_env)
    return DeliveryReport(run_date, read_actions(actions_file).height, drop_files, webhook)
