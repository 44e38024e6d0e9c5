"""The follow-up flow: deliver a scoring run's actions to the CRM drop and the webhook.

Its deployment is started by the `engage.scoring.completed` event the daily flow emits
(deployments/serve_followups.py, deployments/prefect.yaml).
"""

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger

from scoring.config import ScoringConfig
from scoring.followup_config import FollowupsConfig
from tasks.followups.deliver import DROP_DIR, WebhookReport, deliver_to_webhook, drop_for_crm
from tasks.publish.runs import manifest_path
from tasks.publish.write import PART_FILE, partition_dir


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


@flow(name="deliver-followups", flow_run_name="followups-{run_date}", log_prints=True)
def deliver_followups(
    run_date: date, output: str, webhook_url: str | None = None
) -> DeliveryReport:
    """Deliver the actions (new / changed / resolved flags) of the run `run_date` under
    `output`: a CSV/Parquet drop for CRM import, and one JSON POST per action to the webhook
    (`webhook_url`, else the run's delivery config, else its environment variable)."""
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
    url = webhook_url or delivery.webhook_url or os.environ.get(delivery.webhook_url_env)
    webhook = None
    if url:
        webhook = deliver_to_webhook(str(actions_file), url, delivery, output)
    else:
        logger.info("no webhook configured (%s unset): CRM drop only", delivery.webhook_url_env)
    actions = pl.scan_parquet(actions_file).select(pl.len()).collect().item()
    return DeliveryReport(run_date, actions, drop_files, webhook)
