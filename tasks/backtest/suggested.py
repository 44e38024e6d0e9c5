"""suggested_config.yaml: the chosen configuration, with a header saying how it was chosen and
what it scored, whatever that shows."""

import polars as pl
import yaml

from scoring.backtest.observations import OBSERVATION_DATE
from scoring.backtest.outcome import BacktestTables, headline_auc


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def suggested_config_text(tables: BacktestTables, config_source: str) -> str:
    """The suggested configuration as YAML with a header: labels, dates, the choice and its
    reason, the out-of-time AUCs of current / suggested / uniform, tiers and warnings."""
    auc = headline_auc(tables)
    split, calibration = tables.split, tables.calibration
    test_rows = tables.auc.filter(
        pl.col(OBSERVATION_DATE).is_null()
        & (pl.col("period") == "test")
        & (pl.col("weights") == "current")
    )
    observations = int(test_rows["customers"].sum()) if test_rows.height else 0
    churned = int(test_rows["churned"].sum()) if test_rows.height else 0
    new_types = [s.event_type for s in calibration.suggestions if s.status == "new"]
    kept = [s.event_type for s in calibration.suggestions if s.status == "kept"]
    labels = (
        "silence over the horizon (or a churn event type)"
        if tables.labels_source == "silence"
        else f"outside labels from {tables.labels_source}"
    )
    header = [
        f"# Suggested by `engage backtest` from {config_source} (that file is left unchanged).",
        f"# Churn labels: {labels}.",
        f"# Chosen on the training dates {split.train[0]} .. {split.train[-1]} only: "
        f"{calibration.choice.reason}.",
        f"# Evaluated out of time on {split.test[0]} .. {split.test[-1]} ({observations:,} "
        f"observations, {churned:,} churned). ROC AUC, higher score = less churn:",
        f"#   current configuration: {_fmt(auc['current'])}",
        f"#   suggested:             {_fmt(auc['suggested'])}",
        f"#   uniform weights:       {_fmt(auc['uniform'])}",
        f"# Tiers: {tables.tier_note}.",
    ]
    if tables.dropped_observations:
        header.append(
            f"# {tables.dropped_observations:,} observation(s) dropped: their horizon ran past "
            "the customer's observed_until."
        )
    header += [f"# Note: {note}" for note in tables.notes]
    header += [f"# Warning: {warning}" for warning in tables.warnings]
    if new_types:
        header.append(f"# New event types (not in the current config): {', '.join(new_types)}")
    if kept:
        header.append(f"# Kept at their current weight (too little data): {', '.join(kept)}")
    document = tables.suggested_config.model_dump(mode="json")
    delivery = document.get("followups", {}).get("delivery", {})
    if delivery.get("webhook_url") is not None:  # a secret, dumped masked: never copied here
        delivery["webhook_url"] = None
        header.append(
            f"# followups.delivery.webhook_url (a secret) is left out: copy it from "
            f"{config_source}, or keep it in the environment variable "
            f"{delivery['webhook_url_env']}."
        )
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return "\n".join(header) + "\n" + body
