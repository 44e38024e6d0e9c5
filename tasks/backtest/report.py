"""The backtest report: one self-contained HTML file (matplotlib figures as base64 PNG)."""

from typing import Any

import polars as pl
from matplotlib.figure import Figure

from scoring.backtest.observations import OBSERVATION_DATE
from scoring.backtest.outcome import BacktestTables, headline_auc
from scoring.schema import TIERS
from tasks.pages import png_data_uri, render_page

COLORS = {"current": "#1f77b4", "suggested": "#d62728", "uniform": "#7f7f7f"}
MAX_WEIGHT_BARS = 40


def cell(value: Any) -> str:
    """A value as the report shows it: 4 significant digits, thousands separated, n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def roc_figure(roc: pl.DataFrame, auc: dict[str, float | None], period: str) -> str:
    figure = Figure(figsize=(5.5, 5))
    axes = figure.subplots()
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
    return png_data_uri(figure)


def auc_over_time_figure(auc: pl.DataFrame, test_start: Any) -> str:
    figure = Figure(figsize=(9, 3.5))
    axes = figure.subplots()
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
    return png_data_uri(figure)


def lift_figure(tiers: pl.DataFrame) -> str:
    pooled = tiers.filter(pl.col(OBSERVATION_DATE).is_null() & (pl.col("period") == "test"))
    figure = Figure(figsize=(8, 3.8))
    axes = figure.subplots()
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
    return png_data_uri(figure)


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
    figure = Figure(figsize=(8, 0.3 * shown.height + 1.2))
    axes = figure.subplots()
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
    return png_data_uri(figure)


def tier_churn_figure(tiers: pl.DataFrame, weights: str) -> str:
    per_date = tiers.filter(
        pl.col(OBSERVATION_DATE).is_not_null() & (pl.col("weights") == weights)
    ).sort(OBSERVATION_DATE)
    figure = Figure(figsize=(9, 3.5))
    axes = figure.subplots()
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
    return png_data_uri(figure)


def calibration_note(tables: BacktestTables) -> str:
    """How the suggested weights were fitted, in one sentence."""
    calibration = tables.calibration
    settings = (
        f"; regularization C = {calibration.regularization_c}, class weight = "
        f"{calibration.class_weight}, scale k = {calibration.scale:.4g}"
        if calibration.fitted and calibration.scale is not None
        else ""
    )
    return f"{calibration.note}{settings}"


def dates_left_out(tables: BacktestTables) -> str:
    """The observation dates the backtest could not use, and why ("" when none)."""
    dropped = ", ".join(f"{d} (horizon beyond the data)" for d in tables.dropped_dates)
    empty = ", ".join(f"{d} (no active customer)" for d in tables.empty_dates)
    return "; ".join(part for part in (dropped, empty) if part)


def segment_table(tables: BacktestTables) -> pl.DataFrame | None:
    """Per segment value on the test dates: size, churn and the AUC of each weight set."""
    if tables.segment_auc is None or not tables.segment_auc.height:
        return None
    test = tables.segment_auc.filter(pl.col("period") == "test")
    auc = test.pivot("weights", index=["segment", "segment_value"], values="auc")
    sizes = test.filter(pl.col("weights") == "current").select(
        "segment", "segment_value", "customers", "churned", "churn_rate"
    )
    return sizes.join(auc, on=["segment", "segment_value"], how="left")


def labels_used(tables: BacktestTables) -> str:
    """Which churn labels the backtest used, and the observations it dropped for them."""
    labels = (
        "silence over the horizon (no event, or a configured churn event type)"
        if tables.labels_source == "silence"
        else f"outside labels from {tables.labels_source}"
    )
    dropped = tables.dropped_observations
    if not dropped:
        return f"{labels}."
    return (
        f"{labels}. {dropped:,} observation(s) dropped: their horizon ran past the customer's "
        "observed_until (per date in beyond_observation.parquet)."
    )


def tier_boundaries(tables: BacktestTables) -> pl.DataFrame:
    """The current and suggested tier boundaries, one row each."""
    return pl.DataFrame(
        [
            {"configuration": name, **config.tier_boundaries.model_dump(exclude={"quantiles"})}
            for name, config in (
                ("current", tables.current_config),
                ("suggested", tables.suggested_config),
            )
        ]
    )


def rules_on_test_dates(tables: BacktestTables) -> pl.DataFrame | None:
    """Per follow-up rule, pooled over the test dates: flags, precision, lift, coverage."""
    if tables.rule_evidence is None:
        return None
    return tables.rule_evidence.filter(
        pl.col(OBSERVATION_DATE).is_null() & (pl.col("period") == "test")
    ).drop(OBSERVATION_DATE, "period")


def render_report(tables: BacktestTables, suggested_config: str) -> str:
    """The whole report as one HTML document."""
    pooled = tables.auc.filter(pl.col(OBSERVATION_DATE).is_null())
    auc_summary = pooled.pivot("weights", index="period", values="auc").sort(
        pl.col("period").replace_strict(
            {p: i for i, p in enumerate(("train", "gap", "test", "all"))}
        )
    )
    tiers_test = tables.tiers.filter(
        pl.col(OBSERVATION_DATE).is_null() & (pl.col("period") == "test")
    ).filter(pl.col("weights") != "uniform")
    return render_page(
        "backtest_report.html",
        cell=cell,
        split=tables.split,
        notes=tables.notes,
        auc_summary=auc_summary,
        roc=roc_figure(tables.roc, headline_auc(tables, "test"), "test"),
        auc_over_time=auc_over_time_figure(tables.auc, tables.split.test[0]),
        lift=lift_figure(tables.tiers),
        tiers_test=tiers_test.drop(OBSERVATION_DATE, "period"),
        tier_churn_current=tier_churn_figure(tables.tiers, "current"),
        tier_churn_suggested=tier_churn_figure(tables.tiers, "suggested"),
        calibration_note=calibration_note(tables),
        weights_figure=weights_figure(tables.weights),
        weights=tables.weights,
        segments=segment_table(tables),
        left_out=dates_left_out(tables),
        labels=labels_used(tables),
        warnings=tables.warnings,
        choice=tables.calibration.choice.reason,
        candidates=tables.candidates.sort("inner_auc", descending=True, nulls_last=True),
        tier_note=tables.tier_note,
        tier_boundaries=tier_boundaries(tables),
        rules=rules_on_test_dates(tables),
        suggested_config=suggested_config,
    )
