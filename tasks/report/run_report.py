"""The run report: one self-contained HTML page per run date (figures embedded as PNG).

It opens with the call list (the flags to work today by priority, with owner, value, reasons,
why the score changed and a score trend), the queue and the biggest movers down and up; then
counts, score histogram, tier shares over time, segment comparison (when the scores carry a
segment column). Without follow-up rules, at-risk and upsell-ready lists derived from tiers and
score changes replace the call list. Written into the run's staging directory, so it is
published with the run's other partitions.
"""

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.changes import score_changes
from scoring.config import TierBoundaries
from scoring.metrics.rates import EXACT_MAGNITUDE
from scoring.schema import TIERS
from tasks.pages import new_figure, png_data_uri, render_page
from tasks.publish.runs import previous_run_date, tier_history
from tasks.publish.write import PART_FILE, partition_dir
from tasks.report.call_list import (
    biggest_movers,
    call_list_rows,
    flags_link,
    mover_explanations,
    mover_ids,
    queue_rows,
    score_trends,
)

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

REPORT_TABLE = "reports"
REPORT_FILE = "report.html"
TOP_CUSTOMERS = 15
SEGMENT_COLUMNS = ("segment", "plan", "persona", "region", "account_owner", "signup_cohort")
"""Columns of the scores (in this order) that can split customers into segments."""

TIER_COLORS = {
    "churn_risk": "#c0392b",
    "very_disengaged": "#e67e22",
    "somewhat_engaged": "#f1c40f",
    "highly_engaged": "#27ae60",
    "power_user": "#2471a3",
}


def score_histogram(scores: pl.DataFrame, boundaries: TierBoundaries) -> "Figure":
    """Distribution of the scores, tier boundaries drawn as dashed lines."""
    figure = new_figure()
    axes = figure.subplots()
    # an array, not a list: matplotlib reshapes a list of 500 k floats one by one (1.7 s)
    values = scores["score"].to_numpy()
    bins = min(60, max(10, scores["score"].n_unique()))
    axes.hist(values, bins=bins, range=histogram_range(values), color="#5d6d7e")
    for bound in shown_bounds(boundaries, values):
        axes.axvline(bound, color="#922b21", linestyle="--", linewidth=1)
    axes.set_xlabel("score (CES)")
    axes.set_ylabel("customers")
    axes.set_title(f"Score distribution ({len(values):,} customers)")
    return figure


def histogram_range(values: "np.ndarray") -> tuple[float, float] | None:
    """The histogram's x range: the scores' own, widened around scores all (nearly) equal, whose
    own range numpy cannot split into bins when they are large (1e15: a float step is 0.125)."""
    if not len(values):
        return None
    low, high = float(values.min()), float(values.max())
    margin = max(abs(low), abs(high)) * 1e-6
    if high - low > margin:
        return low, high
    return low - max(margin, 0.5), high + max(margin, 0.5)


def shown_bounds(boundaries: TierBoundaries, values: "np.ndarray") -> list[float]:
    """The tier boundaries drawn on the histogram: those within ±EXACT_MAGNITUDE or the scores'
    reach (a bound of 1e308 stretches the axis beyond what matplotlib can put ticks on)."""
    reach = max(EXACT_MAGNITUDE, float(abs(values).max()) if len(values) else 0.0)
    bounds = (
        boundaries.churn_risk_below,
        boundaries.very_disengaged_max,
        boundaries.somewhat_engaged_max,
        boundaries.highly_engaged_max,
    )
    return [bound for bound in bounds if abs(bound) <= reach]


def tier_shares_figure(history: pl.DataFrame) -> "Figure":
    """Share of customers per tier for every run date (stacked bars)."""
    shares = (
        history.with_columns(
            (pl.col("customers") / pl.col("customers").sum().over("run_date")).alias("share")
        )
        .pivot(on="tier", index="run_date", values="share")
        .sort("run_date")
        .fill_null(0.0)
    )
    figure = new_figure()
    axes = figure.subplots()
    labels = [d.isoformat() for d in shares["run_date"].to_list()]
    bottom = [0.0] * len(labels)
    for tier in TIERS:
        if tier not in shares.columns:
            continue
        values = shares[tier].to_list()
        axes.bar(labels, values, bottom=bottom, label=tier, color=TIER_COLORS[tier])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_ylim(0, 1)
    axes.set_ylabel("share of customers")
    axes.set_title("Tier shares over time")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    axes.tick_params(axis="x", labelrotation=60, labelsize="small")
    return figure


def segment_column(scores: pl.DataFrame) -> str | None:
    """The first column of SEGMENT_COLUMNS the scores carry, if any."""
    return next((c for c in SEGMENT_COLUMNS if c in scores.columns), None)


def segment_summary(scores: pl.DataFrame, segment: str) -> pl.DataFrame:
    """Per segment: customers, mean and median score, share in an engaged tier."""
    engaged = pl.col("tier").is_in(["somewhat_engaged", "highly_engaged", "power_user"])
    return (
        scores.group_by(pl.col(segment).cast(pl.String).fill_null("(none)").alias("segment"))
        .agg(
            pl.len().alias("customers"),
            pl.col("score").mean().round(2).alias("mean_score"),
            pl.col("score").median().round(2).alias("median_score"),
            engaged.mean().round(3).alias("engaged_share"),
        )
        .sort("segment")
    )


def segment_figure(scores: pl.DataFrame, segment: str) -> "Figure":
    """Score distribution per segment (box plots)."""
    groups = (
        scores.group_by(pl.col(segment).cast(pl.String).fill_null("(none)").alias("segment"))
        .agg(pl.col("score"))
        .sort("segment")
    )
    figure = new_figure()
    axes = figure.subplots()
    axes.boxplot(groups["score"].to_list(), tick_labels=groups["segment"].to_list())
    axes.set_ylabel("score (CES)")
    axes.set_title(f"Scores per {segment}")
    return figure


def derived_lists(changes: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Without follow-up rules: at-risk = churn_risk tier or a falling score, lowest score
    first; upsell-ready = power users, highest score first."""
    at_risk = (
        changes.filter((pl.col("tier") == "churn_risk") | (pl.col("delta") < 0))
        .sort("score", "customer_id")
        .head(TOP_CUSTOMERS)
    )
    upsell = (
        changes.filter(pl.col("tier") == "power_user")
        .sort(pl.col("score"), pl.col("customer_id"), descending=[True, False])
        .head(TOP_CUSTOMERS)
    )
    return at_risk, upsell


def no_customers_reason(counts: dict[str, Any], run_date: date) -> str:
    """Why a run scored nobody: an input without rows, or no valid event in the window."""
    if not counts.get("rows_read"):
        return "the input has no event rows"
    return (
        f"none of the {counts.get('rows_valid', 0):,} valid events falls in the window ending "
        f"on {run_date.isoformat()}"
    )


def cell(value: object) -> str:
    """A value as the report shows it: floats with up to 3 decimals, missing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)


def with_segment(scores: pl.DataFrame, customer_metrics: Path) -> pl.DataFrame:
    """The scores with the metric panel's `segment` column when the run computed the panel
    (its segment is `metrics.percentile_segment`, the plan by default)."""
    if "segment" in scores.columns or not customer_metrics.is_file():
        return scores
    segments = pl.read_parquet(customer_metrics, columns=["customer_id", "segment"], glob=False)
    return scores.join(segments, on="customer_id", how="left")


def read_flags(roots: list[Path], run_date: date) -> pl.DataFrame | None:
    """The run date's flags partition (written by the follow-up rules), if there is one."""
    for root in roots:
        partition = partition_dir(root, "flags", run_date)
        if partition.is_dir() and (files := sorted(partition.glob("*.parquet"))):
            return pl.read_parquet(files, glob=False)
    return None


def call_list_size(manifest: dict[str, Any]) -> int | None:
    """Rows of the call list: `followups.call_list_size` of the run's configuration; None when
    it has no `followups` section (no rules: no call list)."""
    followups = (manifest.get("config") or {}).get("followups")
    return None if followups is None else int(followups["call_list_size"])


def followups_section(
    run_date: date,
    manifest: dict[str, Any],
    flags: pl.DataFrame | None,
    trends: pl.DataFrame | None,
    changes: pl.DataFrame,
) -> dict[str, Any]:
    """What the report shows of the follow-ups: with configured rules (the manifest's config
    has a `followups` section) the call list, the queue and the flags file; else the at-risk
    and upsell-ready lists derived from tiers and score changes, labelled so."""
    size = call_list_size(manifest)
    if size is None or flags is None:
        at_risk, upsell = derived_lists(changes)
        return {"call_list": None, "at_risk": at_risk, "upsell": upsell}
    statuses = flags["status"].value_counts() if flags.height else None
    counts = dict(statuses.iter_rows()) if statuses is not None else {}
    return {
        "call_list": call_list_rows(flags, trends, size),
        "call_list_size": size,
        "queue": queue_rows(flags),
        "statuses": {status: int(counts.get(status, 0)) for status in ("new", "open", "queued")},
        "baseline": (manifest.get("followups") or {}).get("baseline", False),
        "flags_link": flags_link(run_date),
    }


def changes_since_previous(scores: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame:
    """The scores' changes (scoring.changes.score_changes) since the previous run's scores
    (None: every customer new)."""
    previous_scores = previous if previous is not None else scores.clear()
    return score_changes(scores.lazy(), previous_scores.lazy()).collect()


def render_report(
    run_date: date,
    scores: pl.DataFrame,
    manifest: dict[str, Any],
    history: pl.DataFrame,
    previous: pl.DataFrame | None,
    previous_date: date | None,
    flags: pl.DataFrame | None,
    boundaries: TierBoundaries,
    trends: pl.DataFrame | None = None,
    explanations: pl.DataFrame | None = None,
) -> str:
    """The report page (pure: everything it shows is passed in). `trends` (customer_id,
    run_date, score) draws the call list's sparklines, `explanations` (customer_id,
    explanation) says why the movers moved."""
    counts = manifest.get("counts") or {}
    scored = not scores.is_empty()
    segment = segment_column(scores) if scored else None
    changes = changes_since_previous(scores, previous)
    no_explanations = pl.DataFrame(schema={"customer_id": pl.String, "explanation": pl.String})
    return render_page(
        "run_report.html",
        cell=cell,
        run_date=run_date.isoformat(),
        config_hash=str(manifest.get("config_hash")),
        previous_date=previous_date.isoformat() if previous_date else None,
        counts=pl.DataFrame(
            {"measure": list(counts), "value": [int(v) for v in counts.values()]},
            schema={"measure": pl.String, "value": pl.Int64},
        ),
        no_customers=None if scored else no_customers_reason(counts, run_date),
        score_histogram=png_data_uri(score_histogram(scores, boundaries)) if scored else None,
        tier_shares=png_data_uri(tier_shares_figure(history)),
        segment_columns=SEGMENT_COLUMNS,
        segments=None if segment is None else segment_summary(scores, segment),
        segment_figure=None if segment is None else png_data_uri(segment_figure(scores, segment)),
        movers=biggest_movers(
            changes, explanations if explanations is not None else no_explanations
        )
        if previous_date
        else None,
        **followups_section(run_date, manifest, flags, trends, changes),
    )


@task(name="write-run-report", cache_policy=NO_CACHE, persist_result=False)
def write_run_report(
    staging: str,
    output: str,
    run_date: date,
    boundaries: TierBoundaries,
    manifest: dict[str, Any],
) -> str:
    """Render the run report from the staged run, its manifest (not yet written: the report is
    staged before it, so the manifest lists it) and the published history; stage it at
    `reports/run_date=…/report.html`. Returns the path it will have once published."""
    scores = with_segment(
        pl.read_parquet(partition_dir(staging, "scores", run_date) / PART_FILE, glob=False),
        partition_dir(staging, "customer_metrics", run_date) / PART_FILE,
    )
    current_tiers = pl.DataFrame(
        [(run_date, t, int(n)) for t, n in (manifest.get("tiers") or {}).items()],
        schema={"run_date": pl.Date, "tier": pl.String, "customers": pl.Int64},
        orient="row",
    )
    history = pl.concat(
        [tier_history(output, run_date).filter(pl.col("run_date") != run_date), current_tiers]
    )
    previous_date = previous_run_date(output, run_date)
    previous = (
        pl.read_parquet(partition_dir(output, "scores", previous_date) / PART_FILE, glob=False)
        if previous_date
        else None
    )
    flags = read_flags([Path(staging), Path(output)], run_date)
    size = call_list_size(manifest)
    called = [] if flags is None or size is None else call_list_rows(flags, None, size)
    trends = score_trends(output, staging, run_date, [row["customer_id"] for row in called])
    movers = mover_ids(changes_since_previous(scores, previous))
    explanations = mover_explanations(staging, output, run_date, previous_date, movers)
    page = render_report(
        run_date,
        scores,
        manifest,
        history,
        previous,
        previous_date,
        flags,
        boundaries,
        trends,
        explanations,
    )
    directory = partition_dir(staging, REPORT_TABLE, run_date)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / REPORT_FILE).write_text(page, encoding="utf-8")
    return str((partition_dir(output, REPORT_TABLE, run_date) / REPORT_FILE).resolve())
