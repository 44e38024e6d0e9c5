"""The run report: one self-contained HTML page per run date (figures embedded as PNG).

Score histogram, tier shares over time, segment comparison (when the scores carry a segment
column), top at-risk and upsell-ready customers (from the follow-up flags when a run wrote
them, else from tiers and score changes). Written into the run's staging directory, so it is
published with the run's other partitions.
"""

import base64
import html
import io
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from matplotlib.figure import Figure
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.changes import score_changes
from scoring.config import TierBoundaries
from scoring.schema import TIERS
from tasks.publish.runs import previous_run_date, tier_history
from tasks.publish.write import PART_FILE, partition_dir

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


def png_data_uri(figure: Figure) -> str:
    """The figure as a `data:image/png;base64,…` URI (no timestamp: same data, same bytes)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def score_histogram(scores: pl.DataFrame, boundaries: TierBoundaries) -> Figure:
    """Distribution of the scores, tier boundaries drawn as dashed lines."""
    figure = Figure(figsize=(8, 3.6), layout="constrained")
    axes = figure.subplots()
    values = scores["score"].to_list()
    axes.hist(values, bins=min(60, max(10, len(set(values)))), color="#5d6d7e")
    for bound in (
        boundaries.churn_risk_below,
        boundaries.very_disengaged_max,
        boundaries.somewhat_engaged_max,
        boundaries.highly_engaged_max,
    ):
        axes.axvline(bound, color="#922b21", linestyle="--", linewidth=1)
    axes.set_xlabel("score (CES)")
    axes.set_ylabel("customers")
    axes.set_title(f"Score distribution ({len(values):,} customers)")
    return figure


def tier_shares_figure(history: pl.DataFrame) -> Figure:
    """Share of customers per tier for every run date (stacked bars)."""
    shares = (
        history.with_columns(
            (pl.col("customers") / pl.col("customers").sum().over("run_date")).alias("share")
        )
        .pivot(on="tier", index="run_date", values="share")
        .sort("run_date")
        .fill_null(0.0)
    )
    figure = Figure(figsize=(8, 3.6), layout="constrained")
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


def segment_figure(scores: pl.DataFrame, segment: str) -> Figure:
    """Score distribution per segment (box plots)."""
    groups = (
        scores.group_by(pl.col(segment).cast(pl.String).fill_null("(none)").alias("segment"))
        .agg(pl.col("score"))
        .sort("segment")
    )
    figure = Figure(figsize=(8, 3.6), layout="constrained")
    axes = figure.subplots()
    axes.boxplot(groups["score"].to_list(), tick_labels=groups["segment"].to_list())
    axes.set_ylabel("score (CES)")
    axes.set_title(f"Scores per {segment}")
    return figure


def flagged_customers(flags: pl.DataFrame, kind: str) -> pl.DataFrame | None:
    """The flags of one kind ("at_risk" or "upsell") from a follow-up flags table: the rows
    whose flag/kind column mentions it, with customer_id and any reason columns."""
    kind_column = next(
        (c for c in ("flag", "flag_type", "kind", "category", "list") if c in flags.columns), None
    )
    if kind_column is None or "customer_id" not in flags.columns:
        return None
    needle = kind.replace("_", "")
    matching = flags.filter(
        pl.col(kind_column)
        .cast(pl.String)
        .str.to_lowercase()
        .str.replace_all(r"[^a-z]", "")
        .str.contains(needle, literal=True)
    )
    keep = ["customer_id", kind_column, *[c for c in flags.columns if "reason" in c.lower()]]
    keep += [c for c in ("score", "tier") if c in flags.columns]
    if "score" in flags.columns:  # the most urgent first: lowest at-risk, highest upsell scores
        highest_first = kind != "at_risk"
        matching = matching.sort(
            "score", "customer_id", descending=[highest_first, False], nulls_last=True
        )
    return matching.select(list(dict.fromkeys(keep))).head(TOP_CUSTOMERS)


def derived_lists(changes: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Without flags: at-risk = churn_risk tier or a falling score, lowest score first;
    upsell-ready = power users, highest score first."""
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


def html_table(frame: pl.DataFrame) -> str:
    """A frame as an HTML table (values escaped; floats with up to 3 decimals)."""
    if frame.is_empty():
        return "<p class='empty'>none</p>"

    def cell(value: object) -> str:
        if value is None:
            return "—"
        if isinstance(value, float):
            return f"{value:,.3f}".rstrip("0").rstrip(".")
        return html.escape(str(value))

    header = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in frame.rows()
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"


def with_segment(scores: pl.DataFrame, customer_metrics: Path) -> pl.DataFrame:
    """The scores with the metric panel's `segment` column when the run computed the panel
    (its segment is `metrics.percentile_segment`, the plan by default)."""
    if "segment" in scores.columns or not customer_metrics.is_file():
        return scores
    segments = pl.read_parquet(customer_metrics, columns=["customer_id", "segment"])
    return scores.join(segments, on="customer_id", how="left")


def read_flags(roots: list[Path], run_date: date) -> pl.DataFrame | None:
    """The run date's flags partition (written by the follow-up rules), if there is one."""
    for root in roots:
        partition = partition_dir(root, "flags", run_date)
        if partition.is_dir() and any(partition.glob("*.parquet")):
            return pl.read_parquet(partition / "*.parquet")
    return None


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#1c2833}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #d5d8dc}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
th,td{border:1px solid #d5d8dc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}img{max-width:100%}.empty,.note{color:#7f8c8d}
"""


def render_report(
    run_date: date,
    scores: pl.DataFrame,
    manifest: dict[str, Any],
    history: pl.DataFrame,
    previous: pl.DataFrame | None,
    previous_date: date | None,
    flags: pl.DataFrame | None,
    boundaries: TierBoundaries,
) -> str:
    """The report page (pure: everything it shows is passed in)."""
    counts = manifest.get("counts") or {}
    summary = pl.DataFrame(
        {"measure": list(counts), "value": [int(v) for v in counts.values()]},
        schema={"measure": pl.String, "value": pl.Int64},
    )
    sections = [
        f"<h1>engage run report — {run_date.isoformat()}</h1>",
        f"<p>configuration sha256 <code>{html.escape(str(manifest.get('config_hash')))}</code>"
        f"; previous run: {previous_date.isoformat() if previous_date else 'none'}</p>",
        "<h2>Counts</h2>",
        html_table(summary),
        "<h2>Score distribution</h2>",
        f"<img alt='score histogram' src='{png_data_uri(score_histogram(scores, boundaries))}'>",
        "<h2>Tier shares over time</h2>",
        f"<img alt='tier shares' src='{png_data_uri(tier_shares_figure(history))}'>",
    ]
    segment = segment_column(scores)
    sections.append("<h2>Segments</h2>")
    if segment is None:
        sections.append(
            f"<p class='note'>the scores carry no segment column ({', '.join(SEGMENT_COLUMNS)})</p>"
        )
    else:
        sections.append(html_table(segment_summary(scores, segment)))
        sections.append(
            f"<img alt='segments' src='{png_data_uri(segment_figure(scores, segment))}'>"
        )

    previous_scores = previous if previous is not None else scores.clear()
    changes = score_changes(scores.lazy(), previous_scores.lazy()).collect()
    at_risk = flagged_customers(flags, "at_risk") if flags is not None else None
    upsell = flagged_customers(flags, "upsell") if flags is not None else None
    if at_risk is None or upsell is None:
        at_risk, upsell = derived_lists(changes)
        source = "derived from tiers and score changes (this run wrote no flags)"
    else:
        source = "from the follow-up flags of this run"
    sections += [
        f"<h2>Top at-risk customers</h2><p class='note'>{source}</p>",
        html_table(at_risk),
        f"<h2>Top upsell-ready customers</h2><p class='note'>{source}</p>",
        html_table(upsell),
    ]
    body = "\n".join(sections)
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>engage {run_date.isoformat()}</title><style>{STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
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
        pl.read_parquet(partition_dir(staging, "scores", run_date) / PART_FILE),
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
        pl.read_parquet(partition_dir(output, "scores", previous_date) / PART_FILE)
        if previous_date
        else None
    )
    flags = read_flags([Path(staging), Path(output)], run_date)
    page = render_report(
        run_date, scores, manifest, history, previous, previous_date, flags, boundaries
    )
    directory = partition_dir(staging, REPORT_TABLE, run_date)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / REPORT_FILE).write_text(page, encoding="utf-8")
    return str((partition_dir(output, REPORT_TABLE, run_date) / REPORT_FILE).resolve())
