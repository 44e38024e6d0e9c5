"""The backtest report: one self-contained HTML file (matplotlib figures as base64 PNG)."""

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to PNG only

import matplotlib.pyplot as plt
import polars as pl
from matplotlib.figure import Figure

from scoring.backtest.observations import OBSERVATION_DATE
from scoring.backtest.outcome import BacktestTables, headline_auc
from scoring.schema import TIERS

COLORS = {"current": "#1f77b4", "suggested": "#d62728", "uniform": "#7f7f7f"}
MAX_WEIGHT_BARS = 40

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
img { max-width: 100%; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.85em; }
.note { color: #555; }
"""


def figure_png(figure: Figure) -> str:
    """An <img> tag with the figure as an embedded base64 PNG (the figure is closed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{encoded}">'


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


def html_table(frame: pl.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A frame as an HTML table (numbers formatted, text escaped)."""
    columns = list(columns or frame.columns)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(row[c])}</td>" for c in columns) + "</tr>"
        for row in frame.iter_rows(named=True)
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def roc_figure(roc: pl.DataFrame, auc: dict[str, float | None], period: str) -> str:
    figure, axes = plt.subplots(figsize=(5.5, 5))
    for name, color in COLORS.items():
        points = roc.filter((pl.col("weights") == name) & (pl.col("period") == period))
        if points.height:
            fpr = [0.0, *points["fpr"].to_list()]
            tpr = [0.0, *points["tpr"].to_list()]
            label = f"{name} (AUC {auc[name]:.3f})" if auc.get(name) is not None else name
            axes.plot(fpr, tpr, color=color, label=label)
    axes.plot([0, 1], [0, 1], linestyle=":", color="black", linewidth=0.8)
    axes.set(
        xlabel="churned customers predicted to stay (FPR)",
        ylabel="retained customers predicted to stay (TPR)",
        title=f"ROC, {period} observation dates",
    )
    axes.legend(loc="lower right")
    return figure_png(figure)


def auc_over_time_figure(auc: pl.DataFrame, test_start: Any) -> str:
    figure, axes = plt.subplots(figsize=(9, 3.5))
    per_date = auc.filter(pl.col(OBSERVATION_DATE).is_not_null())
    for name, color in COLORS.items():
        points = per_date.filter(pl.col("weights") == name).sort(OBSERVATION_DATE)
        axes.plot(
            points[OBSERVATION_DATE].to_list(),
            points["auc"].to_list(),
            marker="o",
            color=color,
            label=name,
        )
    axes.axvline(test_start, color="black", linestyle="--", linewidth=0.8)
    axes.text(
        test_start,
        0.98,
        " test (out of time) →",
        va="top",
        fontsize=8,
        transform=axes.get_xaxis_transform(),
    )
    axes.set(ylabel="ROC AUC", title="AUC per observation date")
    axes.legend()
    figure.autofmt_xdate()
    return figure_png(figure)


def lift_figure(tiers: pl.DataFrame) -> str:
    pooled = tiers.filter(pl.col(OBSERVATION_DATE).is_null() & (pl.col("period") == "test"))
    figure, axes = plt.subplots(figsize=(8, 3.8))
    names = [n for n in ("current", "suggested") if pooled.filter(pl.col("weights") == n).height]
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        rows = {r["tier"]: r for r in pooled.filter(pl.col("weights") == name).to_dicts()}
        lifts = [rows.get(t, {}).get("lift") or 0.0 for t in TIERS]
        positions = [x + i * width for x in range(len(TIERS))]
        axes.bar(positions, lifts, width=width, color=COLORS[name], label=name)
    axes.axhline(1.0, color="black", linestyle=":", linewidth=0.8)
    labels = [t.replace("_", "\n") for t in TIERS]
    axes.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(TIERS))], labels)
    axes.set(ylabel="lift (tier churn rate / base rate)", title="Lift per tier, test dates")
    axes.legend()
    return figure_png(figure)


def weights_figure(weights: pl.DataFrame) -> str:
    shown = (
        weights.filter(
            pl.col("suggested_weight").is_not_null() | pl.col("current_weight").is_not_null()
        )
        .with_columns(
            pl.max_horizontal(
                pl.col("suggested_weight").abs().fill_null(0),
                pl.col("current_weight").abs().fill_null(0),
            ).alias("size")
        )
        .sort("size", descending=True)
        .head(MAX_WEIGHT_BARS)
        .sort("size")
    )
    figure, axes = plt.subplots(figsize=(8, 0.3 * shown.height + 1.2))
    positions = list(range(shown.height))
    axes.barh(
        [p + 0.2 for p in positions],
        shown["current_weight"].fill_null(0).to_list(),
        height=0.4,
        color=COLORS["current"],
        label="current",
    )
    axes.barh(
        [p - 0.2 for p in positions],
        shown["suggested_weight"].fill_null(0).to_list(),
        height=0.4,
        color=COLORS["suggested"],
        label="suggested",
    )
    axes.set_yticks(positions, shown["event_type"].to_list())
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set(xlabel="weight", title="Weights: current vs suggested")
    axes.legend()
    return figure_png(figure)


def tier_churn_figure(tiers: pl.DataFrame, weights: str) -> str:
    per_date = tiers.filter(
        pl.col(OBSERVATION_DATE).is_not_null() & (pl.col("weights") == weights)
    ).sort(OBSERVATION_DATE)
    figure, axes = plt.subplots(figsize=(9, 3.5))
    for tier in TIERS:
        points = per_date.filter(pl.col("tier") == tier)
        axes.plot(
            points[OBSERVATION_DATE].to_list(),
            points["churn_rate"].to_list(),
            marker="o",
            label=tier,
        )
    base = per_date.unique(OBSERVATION_DATE).sort(OBSERVATION_DATE)
    axes.plot(
        base[OBSERVATION_DATE].to_list(),
        base["base_churn_rate"].to_list(),
        color="black",
        linestyle="--",
        label="all active",
    )
    axes.set(ylabel="churn rate", title=f"Churn rate per tier over time ({weights} weights)")
    axes.legend(fontsize=8)
    figure.autofmt_xdate()
    return figure_png(figure)


def labels_section(tables: BacktestTables) -> str:
    """Which labels were used and which observations were dropped."""
    labels = (
        "silence over the horizon (no event, or a configured churn event type)"
        if tables.labels_source == "silence"
        else f"outside labels from {tables.labels_source}"
    )
    dropped = tables.dropped_observations
    return (
        f"<p><b>Churn labels:</b> {html.escape(labels)}."
        + (
            f" {dropped:,} observation(s) dropped: their horizon ran past the customer's "
            "observed_until (per date in beyond_observation.parquet)."
            if dropped
            else ""
        )
        + "</p>"
    )


def candidates_section(tables: BacktestTables) -> str:
    """Every candidate's inner validation AUC and the choice."""
    candidates = tables.candidates.sort("inner_auc", descending=True, nulls_last=True)
    return (
        "<h2>Candidates (inner validation dates)</h2>"
        f"<p><b>Chosen:</b> {html.escape(tables.calibration.choice.reason)}.</p>"
        + html_table(candidates)
    )


def tiers_section(tables: BacktestTables) -> str:
    """Current and suggested tier boundaries and how they were found."""
    boundaries = pl.DataFrame(
        [
            {"configuration": name, **config.tier_boundaries.model_dump(exclude={"quantiles"})}
            for name, config in (
                ("current", tables.current_config),
                ("suggested", tables.suggested_config),
            )
        ]
    )
    return (
        "<h2>Tier boundaries: current vs suggested</h2>"
        f"<p class='note'>{html.escape(tables.tier_note)}.</p>" + html_table(boundaries)
    )


def warnings_section(tables: BacktestTables) -> str:
    """The warnings, or that there are none."""
    items = "".join(f"<li>{html.escape(w)}</li>" for w in tables.warnings) or "<li>none</li>"
    return f"<h2>Warnings</h2><ul>{items}</ul>"


def rules_section(tables: BacktestTables) -> str:
    """Per follow-up rule on the test dates: flags, precision, lift, coverage."""
    if tables.rule_evidence is None:
        return ""
    pooled = tables.rule_evidence.filter(
        pl.col(OBSERVATION_DATE).is_null() & (pl.col("period") == "test")
    ).drop(OBSERVATION_DATE, "period")
    return (
        "<h2>Follow-up rules: evidence (test dates)</h2><p class='note'>Each rule evaluated "
        "point in time at every observation date; precision = churn rate among the flagged, "
        "lift = precision / base rate, coverage = share of churners flagged (per date in "
        "rule_evidence.parquet).</p>" + html_table(pooled)
    )


def render_report(tables: BacktestTables, suggested_config: str) -> str:
    """The whole report as one HTML document."""
    split = tables.split
    auc_test = headline_auc(tables, "test")
    pooled = tables.auc.filter(pl.col(OBSERVATION_DATE).is_null())
    auc_summary = pooled.pivot("weights", index="period", values="auc").sort(
        pl.col("period").replace_strict(
            {p: i for i, p in enumerate(("train", "gap", "test", "all"))}
        )
    )
    tiers_test = tables.tiers.filter(
        pl.col(OBSERVATION_DATE).is_null() & (pl.col("period") == "test")
    ).filter(pl.col("weights") != "uniform")
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>engage backtest</title>"
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Does the score predict churn? — engage backtest</h1>",
        "<p class='note'>Point-in-time scores (only events up to each observation date) of the "
        "customers active on that date; churned = no event in the horizon, or a configured churn "
        "event. ROC AUC: probability that a retained customer scores above a churned one (ties "
        "count 1/2). Suggested weights are fitted on the training dates and evaluated on the "
        "later test dates only.</p>",
        f"<p>Training dates: {split.train[0]} … {split.train[-1]} ({len(split.train)}); "
        f"test dates: {split.test[0]} … {split.test[-1]} ({len(split.test)})"
        + (f"; gap (not used to fit or test): {len(split.gap)}" if split.gap else "")
        + "</p>",
        labels_section(tables),
        *(f"<p><b>Note:</b> {html.escape(note)}</p>" for note in tables.notes),
        warnings_section(tables),
        "<h2>ROC AUC</h2>",
        html_table(auc_summary),
        roc_figure(tables.roc, auc_test, "test"),
        auc_over_time_figure(tables.auc, split.test[0]),
        "<h2>Lift per tier (test dates)</h2>",
        lift_figure(tables.tiers),
        html_table(tiers_test.drop(OBSERVATION_DATE, "period")),
        "<h2>Tier churn rates over time</h2>",
        tier_churn_figure(tables.tiers, "current"),
        "<p class='note'>With the suggested weights (in sample on the training dates):</p>",
        tier_churn_figure(tables.tiers, "suggested"),
        "<h2>Weights: current vs suggested</h2>",
        f"<p class='note'>{html.escape(tables.calibration.note)}"
        + (
            f"; regularization C = {tables.calibration.regularization_c}, class weight = "
            f"{tables.calibration.class_weight}, scale k = {tables.calibration.scale:.4g}"
            if tables.calibration.fitted and tables.calibration.scale is not None
            else ""
        )
        + ".</p>",
        weights_figure(tables.weights),
        html_table(tables.weights),
        candidates_section(tables),
        tiers_section(tables),
        rules_section(tables),
    ]
    if tables.segment_auc is not None and tables.segment_auc.height:
        segment = tables.segment_auc.filter(pl.col("period") == "test").pivot(
            "weights", index=["segment", "segment_value"], values="auc"
        )
        sizes = tables.segment_auc.filter(
            (pl.col("period") == "test") & (pl.col("weights") == "current")
        ).select("segment", "segment_value", "customers", "churned", "churn_rate")
        parts += [
            "<h2>Segments (test dates, ROC AUC)</h2>",
            html_table(sizes.join(segment, on=["segment", "segment_value"], how="left")),
        ]
    if tables.dropped_dates or tables.empty_dates:
        parts.append(
            "<p class='note'>Observation dates left out: "
            + ", ".join(f"{d} (horizon beyond the data)" for d in tables.dropped_dates)
            + ("; " if tables.dropped_dates and tables.empty_dates else "")
            + ", ".join(f"{d} (no active customer)" for d in tables.empty_dates)
            + "</p>"
        )
    parts += [
        "<h2>suggested_config.yaml</h2>",
        f"<pre>{html.escape(suggested_config)}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)
