"""The runs already published under an output directory, read from their manifests:
which dates are done, the previous run of a date, tier counts over time."""

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from tasks.publish.atomic import MANIFEST_FILE
from tasks.publish.write import MANIFEST_TABLE, PART_FILE, partition_dir

DATA_TABLES = ("scores", "contributions", "quarantine")
"""Tables every complete run has a partition of (beside its manifest)."""


def manifest_path(output: str | Path, run_date: date) -> Path:
    """Where the manifest of a run date is published."""
    return partition_dir(output, MANIFEST_TABLE, run_date) / MANIFEST_FILE


def read_manifest(output: str | Path, run_date: date) -> dict[str, Any] | None:
    """The published manifest of a run date, or None when there is none (or it is unreadable:
    a run interrupted while publishing is treated as not done)."""
    try:
        manifest = json.loads(manifest_path(output, run_date).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("run_date") != run_date.isoformat():
        return None
    return manifest


def published_run_dates(
    output: str | Path, table: str = MANIFEST_TABLE, file: str = MANIFEST_FILE
) -> list[date]:
    """Every run date with a published `file` in its `table` partition (by default: every run
    date with a manifest), oldest first."""
    dates = []
    for partition in (Path(output) / table).glob("run_date=*"):
        try:
            run_date = date.fromisoformat(partition.name.removeprefix("run_date="))
        except ValueError:
            continue
        if (partition / file).is_file():
            dates.append(run_date)
    return sorted(dates)


def latest_run_date_before(output: str | Path, run_date: date, table: str) -> date | None:
    """The latest run date before `run_date` with a published `table` partition, if any."""
    earlier = [d for d in published_run_dates(output, table, PART_FILE) if d < run_date]
    return earlier[-1] if earlier else None


def previous_run_date(output: str | Path, run_date: date) -> date | None:
    """The latest published run date before `run_date` that has scores, if any."""
    return latest_run_date_before(output, run_date, "scores")


def is_complete(output: str | Path, run_date: date, config_hash: str | None = None) -> bool:
    """True when the run date's manifest and every data partition are published (and, when
    `config_hash` is given, the manifest says they were scored with that configuration)."""
    manifest = read_manifest(output, run_date)
    if manifest is None:
        return False
    if config_hash is not None and manifest.get("config_hash") != config_hash:
        return False
    return all((partition_dir(output, t, run_date) / PART_FILE).is_file() for t in DATA_TABLES)


def tier_history(output: str | Path, until: date) -> pl.DataFrame:
    """Customers per tier of every published run up to `until` (run_date, tier, customers),
    from the manifests."""
    rows = [
        (run_date, tier, int(customers))
        for run_date in published_run_dates(output)
        if run_date <= until
        for tier, customers in ((read_manifest(output, run_date) or {}).get("tiers") or {}).items()
    ]
    return pl.DataFrame(
        rows, schema={"run_date": pl.Date, "tier": pl.String, "customers": pl.Int64}, orient="row"
    )
