"""What the commands print: a run's summary and its call list, a backtest's tables."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from flows import terminal
from tasks.messages import one_line

if TYPE_CHECKING:
    from flows.daily import RunSummary
    from tasks.backtest.run import BacktestReport


def show(*objects: Any, **options: Any) -> None:
    """Print on the command's terminal (terminal.console, made again in a forked runner); a
    line of text as one line (tasks.messages.one_line: a path holding a newline or an escape
    sequence cannot split it or drive the terminal)."""
    shown = [one_line(o) if isinstance(o, str) else o for o in objects]
    terminal.console.print(*shown, **options)


def noted(label: str, text: str) -> Text:
    """`label: text`, the label in yellow (the console reads no markup: `text` is data)."""
    return Text.assemble((f"{label}:", "yellow"), f" {text}")


def counted(counts: dict[str, int]) -> str:
    """`at_risk 609, upsell_ready 445`: counts as people read them."""
    return ", ".join(f"{name} {count:,}" for name, count in counts.items()) or "none"


def print_summary(summary: "RunSummary") -> None:
    """A table of what the run read, quarantined and scored, and where the outputs are."""
    from flows.daily import validation_counts
    from tasks.quality.validate import escaped_counts
    from tasks.report.run_report import no_customers_reason

    validation, scoring = summary.validation, summary.scoring
    show(counts_table(summary))
    if not scoring.customers:
        reason = no_customers_reason(validation_counts(validation), summary.run_date)
        show(
            noted(
                "no customer was scored",
                f"{reason}; every table is published empty, with its schema",
            )
        )

    show(tiers_table(scoring.tiers, scoring.customers))
    if validation.quarantine_reasons:
        show(counts_by("quarantine reasons", "reason", validation.quarantine_reasons))
    if scoring.unweighted_event_types:
        unweighted = escaped_counts(scoring.unweighted_event_types)
        show(f"unweighted event types (counted 0): {unweighted}")
    if summary.followups is not None:
        print_call_list(summary)
    if validation.unknown_event_types:
        unknown = escaped_counts(validation.unknown_event_types)
        show(f"event types not in the catalogue (kept): {unknown}")
    if summary.data_docs:
        show(f"Data Docs: {summary.data_docs}")
    if summary.run_report:
        show(f"run report: {summary.run_report}")
    show("outputs:")
    for path in summary.published:
        show(f"  {path}")


def counts_table(summary: "RunSummary") -> Table:
    """What the run read (and, from a source, extracted), quarantined and scored."""
    validation, scoring = summary.validation, summary.scoring
    counts = Table(title=f"engage run {summary.run_date}", show_header=False)
    counts.add_row("input files", str(len(summary.input_files)))
    if summary.extraction:
        extraction = summary.extraction
        counts.add_row("source", f"{extraction['source']} ({extraction['kind']})")
        counts.add_row("read since", str(extraction["window_start"] or "the beginning"))
        counts.add_row("events added to store", f"{extraction['store']['events_added']:,}")
        late = extraction["late_events"]
        if late["count"]:
            affected = ", ".join(late["affected_run_dates"]) or "none published"
            counts.add_row("late events", f"{late['count']:,} (rerun: {affected})")
    counts.add_row("rows read", f"{validation.rows_read:,}")
    counts.add_row("rows valid (scored)", f"{validation.rows_valid:,}")
    counts.add_row("rows quarantined", f"{validation.rows_quarantined:,}")
    counts.add_row("duplicates removed", f"{validation.duplicates_removed:,}")
    counts.add_row("customers scored", f"{scoring.customers:,}")
    counts.add_row("events in window", f"{scoring.events_in_window:,}")
    return counts


def tiers_table(tiers: dict[str, int], customers: int) -> Table:
    """Customers per tier, with their share."""
    table = Table(title="customers per tier")
    table.add_column("tier")
    table.add_column("customers", justify="right")
    table.add_column("share", justify="right")
    for tier, count in tiers.items():
        table.add_row(tier, f"{count:,}", f"{count / customers if customers else 0.0:.1%}")
    return table


def counts_by(title: str, name: str, counts: dict[str, int]) -> Table:
    """A two-column table: each `name` with its row count."""
    table = Table(title=title)
    table.add_column(name)
    table.add_column("rows", justify="right")
    for value, rows in counts.items():
        table.add_row(value, f"{rows:,}")
    return table


CALL_LIST_SHOWN = 10


def print_call_list(summary: "RunSummary") -> None:
    """The size of the call list and the queue, and the top of the call list."""
    import polars as pl

    followups = summary.followups
    assert followups is not None
    statuses = followups.statuses
    calls = statuses.get("new", 0) + statuses.get("open", 0)
    show(
        f"call list: {calls:,} ({statuses.get('new', 0):,} new, {statuses.get('open', 0):,} "
        f"open); queue: {statuses.get('queued', 0):,} over capacity; "
        f"{followups.deliveries:,} action(s) to deliver"
        + (" (baseline run: flags queued, see --deliver-baseline)" if followups.baseline else "")
    )
    flags_file = Path(summary.output) / "flags" / f"run_date={summary.run_date}" / "part-0.parquet"
    top = (
        pl.read_parquet(flags_file, glob=False)
        .filter(pl.col("status").is_in(["new", "open"]))
        .sort("priority")
        .head(CALL_LIST_SHOWN)
    )
    if top.is_empty():
        return
    table = Table(title=f"call list, top {top.height} by priority (all: {flags_file})")
    for name in ("#", "status", "kind", "customer", "owner", "value", "rules"):
        table.add_column(name, justify="right" if name in ("#", "value") else "left")
    for row in top.iter_rows(named=True):
        table.add_row(
            str(row["priority"]),
            row["status"],
            row["kind"],
            row["customer_name"] or row["customer_id"],
            row["account_owner"] or "—",
            "—" if row["value"] is None else f"{row['value']:,.0f}",
            row["rules"],
        )
    show(table)


def _auc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _print_backtest_auc(report: "BacktestReport") -> None:
    auc = Table(title="ROC AUC (higher score = less churn)")
    auc.add_column("configuration")
    auc.add_column("out of time (test dates)", justify="right")
    auc.add_column("train dates (in sample)", justify="right")
    for name in ("current", "suggested", "uniform"):
        auc.add_row(name, _auc(report.auc_test.get(name)), _auc(report.auc_train.get(name)))
    show(auc)
    labels = (
        "silence over the horizon" if report.labels_source == "silence" else report.labels_source
    )
    show(
        f"labels: {labels}; train dates {report.train_dates[0]}..{report.train_dates[-1]} "
        f"({len(report.train_dates)}), test dates {report.test_dates[0]}.."
        f"{report.test_dates[-1]} ({len(report.test_dates)}): "
        f"{report.observations:,} test observations, {report.churned:,} churned"
    )
    if report.dropped_observations:
        show(
            f"{report.dropped_observations:,} observation(s) dropped: horizon past the "
            "customer's observed_until"
        )


def _print_backtest_candidates(report: "BacktestReport", shown: int = 8) -> None:
    candidates = Table(
        title=f"candidates, inner validation AUC (best {shown} of {len(report.candidates)})"
    )
    for column in ("weights", "window", "half-life", "inner AUC"):
        candidates.add_column(column, justify="left" if column == "weights" else "right")
    for row in report.candidates[:shown]:
        half_life = row["half_life_days"]
        candidates.add_row(
            row["weights"],
            str(row["window_days"]),
            "none" if half_life is None else f"{half_life:g}",
            _auc(row["inner_auc"]),
        )
    show(candidates)
    show(f"chosen: {report.choice['reason']}")


def _print_backtest_tiers(report: "BacktestReport") -> None:
    tiers = Table(title="per tier, test dates: current / suggested configuration")
    tiers.add_column("tier")
    tiers.add_column("customers", justify="right")
    tiers.add_column("churn rate", justify="right")
    tiers.add_column("lift", justify="right")
    by_tier: dict[str, dict[str, dict]] = {}
    for row in report.tiers_test:
        by_tier.setdefault(row["tier"], {})[row["weights"]] = row

    def pair(rows: dict[str, dict], key: str, form: str) -> str:
        values = [rows.get(name, {}).get(key) for name in ("current", "suggested")]
        return " / ".join("n/a" if v is None else format(v, form) for v in values)

    for tier, rows in by_tier.items():
        tiers.add_row(
            tier,
            pair(rows, "customers", ","),
            pair(rows, "churn_rate", ".1%"),
            pair(rows, "lift", ".2f"),
        )
    show(tiers)
    show(f"suggested tiers: {report.tier_note}")


def _print_rule_evidence(report: "BacktestReport") -> None:
    if not report.rule_evidence_test:
        return
    rules = Table(title="follow-up rules, test dates: flagged, precision, lift, coverage")
    for column in ("rule", "kind", "flagged", "precision", "lift", "coverage"):
        rules.add_column(column, justify="left" if column in ("rule", "kind") else "right")
    for row in report.rule_evidence_test:
        rules.add_row(
            row["rule"],
            row["kind"],
            f"{row['flagged']:,}",
            "n/a" if row["precision"] is None else f"{row['precision']:.1%}",
            "n/a" if row["lift"] is None else f"{row['lift']:.2f}",
            "n/a" if row["coverage"] is None else f"{row['coverage']:.1%}",
        )
    show(rules)


def print_backtest_summary(report: "BacktestReport") -> None:
    """AUCs of current / suggested / uniform, the candidates, tiers, rules, warnings, outputs."""
    _print_backtest_auc(report)
    _print_backtest_candidates(report)
    _print_backtest_tiers(report)
    _print_rule_evidence(report)
    new_types = [w["event_type"] for w in report.weights if w["status"] == "new"]
    if new_types:
        show(f"suggested new event types (not in the config): {', '.join(new_types)}")
    for note in report.notes:
        show(noted("note", note))
    for warning in report.warnings:
        show(noted("warning", warning))
    if report.dropped_dates:
        dropped = ", ".join(map(str, report.dropped_dates))
        show(noted("dropped (horizon beyond the last event)", dropped))
    if report.empty_dates:
        empty = ", ".join(map(str, report.empty_dates))
        show(noted("no observed customer on", empty))
    if report.skipped_segment_columns:
        skipped = ", ".join(report.skipped_segment_columns)
        show(f"customer columns not used as segments (1 or > 20 values): {skipped}")
    show(f"suggested config: {report.suggested_config_path}")
    show(f"report: {report.report_path}")
    show(f"tables: {Path(report.report_path).parent}/*.parquet")
