"""Prefect artifacts of a daily run: a markdown summary (counts, the top of the call list,
tiers vs the previous run, top movers, validation, outputs, link to the run report) and a
table of the tier shift."""

from datetime import date
from pathlib import Path

import polars as pl
from prefect import task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from scoring.changes import score_changes, tier_shift, top_movers
from tasks.publish.runs import previous_run_date, read_manifest
from tasks.publish.write import PART_FILE, partition_dir
from tasks.quality.validate import ValidationReport
from tasks.score.scores import ScoreReport

SUMMARY_KEY = "engage-run-summary"
TIERS_KEY = "engage-tier-shift"
REPORT_KEY = "engage-run-report"
TOP_MOVERS = 10
CALLS_SHOWN = 10


def markdown_table(frame: pl.DataFrame) -> str:
    """A frame as a GitHub-flavoured markdown table (floats with up to 3 decimals)."""

    def cell(value: object) -> str:
        if value is None:
            return "—"
        if isinstance(value, float):
            return f"{value:,.3f}".rstrip("0").rstrip(".")
        if isinstance(value, int):
            return f"{value:,}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * frame.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.rows()]
    return "\n".join(lines)


def call_list_markdown(flags: pl.DataFrame) -> list[str]:
    """The call list's size, the queue and its first CALLS_SHOWN rows, by priority."""
    statuses = dict(flags["status"].value_counts().iter_rows()) if flags.height else {}
    new, still_open, queued = (int(statuses.get(s, 0)) for s in ("new", "open", "queued"))
    calls = (
        flags.filter(pl.col("status").is_in(["new", "open"]))
        .sort("priority")
        .head(CALLS_SHOWN)
        .select(
            "priority", "status", "kind", "customer_id", "customer_name", "account_owner",
            "value", "reasons",
        )
    )  # fmt: skip
    lines = [
        "## Call list",
        "",
        f"{new + still_open:,} flags to work ({new:,} new today, {still_open:,} open); "
        f"{queued:,} queued over capacity.",
        "",
    ]
    return lines + ([markdown_table(calls), ""] if calls.height else [])


def validation_markdown(validation: ValidationReport) -> list[str]:
    """The validation balance and the quarantine reasons."""
    lines = [
        "## Validation",
        "",
        f"rows read = valid + quarantined + duplicates removed: {validation.rows_read:,} = "
        f"{validation.rows_valid:,} + {validation.rows_quarantined:,} + "
        f"{validation.duplicates_removed:,}",
        "",
    ]
    if validation.quarantine_reasons:
        reasons = pl.DataFrame(
            {
                "reason": list(validation.quarantine_reasons),
                "rows": list(validation.quarantine_reasons.values()),
            }
        )
        lines += [markdown_table(reasons), ""]
    return lines


def run_summary_markdown(
    run_date: date,
    validation: ValidationReport,
    scoring: ScoreReport,
    shift: pl.DataFrame,
    movers: pl.DataFrame,
    previous_date: date | None,
    published: list[str],
    report: str | None,
    report_url: str | None = None,
    flags: pl.DataFrame | None = None,
) -> str:
    """The markdown summary of one run (pure: everything it shows is passed in). The report
    is linked when it is served over http (`report_url`): browsers open no file:// link.
    `flags`: the run's follow-up flags, when it has follow-up rules."""
    previous = previous_date.isoformat() if previous_date else "none"
    counts = pl.DataFrame(
        {
            "rows read": [validation.rows_read],
            "rows valid": [validation.rows_valid],
            "rows quarantined": [validation.rows_quarantined],
            "duplicates removed": [validation.duplicates_removed],
            "customers scored": [scoring.customers],
            "events in window": [scoring.events_in_window],
        }
    )
    shares = shift.with_columns(
        (pl.col("share") * 100).round(1).alias("share %"),
        (pl.col("previous_share") * 100).round(1).alias("previous share %"),
    ).select(
        "tier",
        "customers",
        "share %",
        pl.col("previous_customers").alias("previous customers"),
        "previous share %",
        "change",
    )
    lines = [f"# engage run {run_date.isoformat()}", ""]
    if report_url:
        lines += [f"Run report: [{Path(str(report)).name}]({report_url}) (`{report}`)", ""]
    elif report:
        lines += [f"Run report: `{report}` (set ENGAGE_OUTPUT_URL to link it here)", ""]
    lines += ["## Counts", "", markdown_table(counts), ""]
    if flags is not None:
        lines += call_list_markdown(flags)
    lines += [f"## Tiers vs the previous run ({previous})", "", markdown_table(shares), ""]
    lines += [f"## Top movers since the previous run ({previous})", ""]
    if previous_date is None:
        lines += ["No previous run to compare with.", ""]
    elif movers.is_empty():
        lines += ["No customer's score changed.", ""]
    else:
        renamed = movers.rename({"previous_score": "previous score", "previous_tier": "was"})
        lines += [markdown_table(renamed), ""]
    lines += validation_markdown(validation)
    if scoring.unweighted_event_types:
        unweighted = ", ".join(f"{t} ({n:,})" for t, n in scoring.unweighted_event_types.items())
        lines += [f"Unweighted event types (counted 0): {unweighted}", ""]
    lines += ["## Outputs", "", *[f"- `{path}`" for path in published], ""]
    return "\n".join(lines)


@task(name="publish-run-artifacts", cache_policy=NO_CACHE, persist_result=False)
def publish_run_artifacts(
    run_date: date,
    output: str,
    validation: ValidationReport,
    scoring: ScoreReport,
    published: list[str],
    report: str | None,
    report_url: str | None = None,
) -> str:
    """Compare the published run with the previous one; create the summary and tier
    artifacts (and a link artifact to the report when it is served at `report_url`). Returns
    the markdown."""
    scores = pl.scan_parquet(partition_dir(output, "scores", run_date) / PART_FILE, glob=False)
    previous_date = previous_run_date(output, run_date)
    if previous_date is None:
        previous_scores = scores.clear()
        previous_tiers: dict[str, int] = {}
    else:
        previous_file = partition_dir(output, "scores", previous_date) / PART_FILE
        previous_scores = pl.scan_parquet(previous_file, glob=False)
        previous_tiers = (read_manifest(output, previous_date) or {}).get("tiers") or {}
    tier_frame = {"tier": pl.String, "customers": pl.Int64}
    shift = tier_shift(
        pl.LazyFrame(list(scoring.tiers.items()), schema=tier_frame, orient="row"),
        pl.LazyFrame(list(previous_tiers.items()), schema=tier_frame, orient="row"),
    ).collect()
    movers = top_movers(score_changes(scores, previous_scores), TOP_MOVERS).collect()
    flags_file = partition_dir(output, "flags", run_date) / PART_FILE
    has_rules = ((read_manifest(output, run_date) or {}).get("config") or {}).get("followups")
    flags = pl.read_parquet(flags_file, glob=False) if has_rules and flags_file.is_file() else None
    markdown = run_summary_markdown(
        run_date,
        validation,
        scoring,
        shift,
        movers,
        previous_date,
        published,
        report,
        report_url,
        flags,
    )
    if report_url:
        create_link_artifact(
            report_url,
            link_text=f"run report {run_date.isoformat()}",
            key=REPORT_KEY,
            description=f"engage run report for {run_date.isoformat()}",
        )
    create_markdown_artifact(
        markdown, key=SUMMARY_KEY, description=f"engage run {run_date.isoformat()}"
    )
    create_table_artifact(
        shift.to_dicts(),
        key=TIERS_KEY,
        description=f"customers per tier on {run_date.isoformat()} vs {previous_date or 'none'}",
    )
    return markdown
