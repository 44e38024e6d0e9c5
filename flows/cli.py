"""`engage`: the command line. Checks its arguments and inputs first (flows/preflight.py,
before Prefect is even imported), then runs the Prefect flows and prints a summary of what
they did: handed to `engage server`'s warm runner when one runs, else against PREFECT_API_URL
or a temporary Prefect server started while the flows are imported (flows/engage_server.py).

Exit status: 0 done; 2 a bad argument, input or configuration; 3 stopped by the data-quality
gate; 4 the output cannot be written (full, read-only, not a directory). Each error is one line
on stderr; `--debug` adds the traceback.
"""

import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

# Set before Prefect is imported: an ephemeral server needs 8-16 s to start on two cores.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

if TYPE_CHECKING:
    from flows.daily import RunSummary
    from flows.preflight import DailyInputs
    from scoring.config import ScoringConfig
    from tasks.backtest.run import BacktestReport

DEMO_RUN_DATE = date(2026, 3, 31)

app = typer.Typer(
    help="Customer engagement scoring: extract, validate, score and write Parquet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


def use_this_terminal() -> None:
    """Make the consoles again for the terminal now on stdout and stderr (in a process forked by
    `engage server`'s runner: its consoles were made for the runner's log)."""
    global console, errors
    console, errors = Console(), Console(stderr=True)


def main() -> None:
    """The `engage` console script. A command that runs a flow is handed, once its pre-flight
    checks pass, to `engage server`'s warm runner when one runs (flows/engage_server.py)."""
    app(obj={"argv": sys.argv[1:]})


def _hand_over(context: typer.Context) -> None:
    """End the command with the exit status of the same command run by `engage server`'s warm
    runner, when one runs and the command came from the console script."""
    from flows.engage_server import handed_to_runner

    argv = (context.obj or {}).get("argv")
    if argv is not None and (status := handed_to_runner(argv)) is not None:
        raise typer.Exit(status)


EVENTS_HELP = "Event file, directory or glob (CSV/NDJSON/Parquet)."
Events = Annotated[str, typer.Option(help=EVENTS_HELP)]
Output = Annotated[Path, typer.Option(help="Directory of the Parquet outputs.")]
Customers = Annotated[
    Path | None,
    typer.Option(
        help="Customers table (CSV/NDJSON/Parquet): customer_id, plan and attribute columns."
    ),
]
Debug = Annotated[
    bool, typer.Option("--debug", help="Print the traceback of an error, not just its line.")
]
AllowFuture = Annotated[
    bool,
    typer.Option(
        "--allow-future", help="Score a run date no time zone has reached yet (refused by default)."
    ),
]
EXIT_INPUT, EXIT_QUALITY_GATE, EXIT_OUTPUT = 2, 3, 4


BacktestCustomers = Annotated[
    Path | None,
    typer.Option(
        "--customers",
        help="Customers table (CSV/NDJSON/Parquet): customer_id + segment columns; an "
        "observed_until column (YYYY-MM-DD) ends each customer's observation.",
    ),
]
Labels = Annotated[
    Path | None,
    typer.Option(
        help="Churn labels (CSV/Parquet: customer_id, observation_date, churned 0/1, optional "
        "observed_until) instead of the silence rule; their dates from --from to --to are the "
        "observation dates.",
    ),
]


def _date_range(first: str, last: str, first_option: str, last_option: str) -> tuple[date, date]:
    """Two dates in order, or PreflightError naming the options."""
    from flows.preflight import PreflightError, parsed_date

    start, end = parsed_date(first, first_option), parsed_date(last, last_option)
    if end < start:
        raise PreflightError(f"{last_option} {end} is before {first_option} {start}")
    return start, end


def _fail(message: str, code: int = 2, label: str = "error") -> typer.Exit:
    from tasks.secrets import redact

    errors.print(f"[bold red]{label}:[/] {redact(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=code)


def _subclass_names(kinds: tuple[type[Exception], ...]) -> set[str]:
    """The names of the kinds and of all their subclasses."""
    names, pending = set(), list(kinds)
    while pending:
        kind = pending.pop()
        names.add(kind.__name__)
        pending += kind.__subclasses__()
    return names


class _ExpectedErrorFilter(logging.Filter):
    """Drops the console records Prefect writes for an expected error (the task's and the
    flow's traceback, their `Finished in state Failed(...)` lines): the command prints it as
    one line. Prefect's API handler still receives them (the run's logs keep the traceback).

    `also` counts other errors as expected (an OSError that is the output being full), and
    `also_text` the messages that mention them."""

    def __init__(
        self,
        kinds: tuple[type[Exception], ...],
        also: Callable[[BaseException], bool] | None = None,
        also_text: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__()
        self.kinds, self.also, self.also_text = kinds, also, also_text
        self.markers = [f"{name}{end}" for name in _subclass_names(kinds) for end in (":", "(")]

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, self.kinds) or (error and self.also and self.also(error)):
            return False
        if record.levelno < logging.ERROR:
            return True
        message = record.getMessage()
        if self.also_text is not None and self.also_text(message):
            return False
        return not any(marker in message for marker in self.markers)


class _SummarizedFilter(logging.Filter):
    """Drops the console records the command's summary repeats (flows.daily.SUMMARIZED)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "engage_summary", False)


@contextmanager
def _exit_on(
    *kinds: type[Exception],
    code: int = EXIT_INPUT,
    label: str = "error",
    debug: bool = False,
    quiet: logging.Filter | None = None,
) -> Iterator[None]:
    """An error of one of `kinds` ends the command: `label: message` on stderr, exit `code`
    (2: bad input or configuration; 3: the data-quality gate stopped the run; 4: the output
    cannot be written), with no traceback on the console unless `debug` (`quiet`: the filter
    of the console records of the error, by default those of `kinds`)."""
    filters = [quiet or _ExpectedErrorFilter(kinds), _SummarizedFilter()] if not debug else []
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        for kind in filters:
            handler.addFilter(kind)
    try:
        yield
    except kinds as error:
        if debug:
            traceback.print_exception(error)
        raise _fail(str(error), code, label) from error
    finally:
        for handler in handlers:
            for kind in filters:
                handler.removeFilter(kind)


@contextmanager
def _preflight_errors(debug: bool) -> Iterator[None]:
    """The pre-flight's errors as exit statuses: 2 for a bad argument or input, 4 for an output
    that cannot be written."""
    from flows.preflight import EXPECTED, NOT_WRITABLE

    with _exit_on(*EXPECTED, debug=debug), _exit_on(NOT_WRITABLE, code=EXIT_OUTPUT, debug=debug):
        yield


def _gate_errors(kind: type[Exception], debug: bool) -> Any:
    """Exit 3 when the data-quality gate (QualityGateError) stops the run."""
    return _exit_on(kind, code=EXIT_QUALITY_GATE, label="data-quality gate", debug=debug)


def _output_errors(output: Path, debug: bool) -> Any:
    """Exit 4 on OutputNotWritableError, with no console record of the error that caused it."""
    from tasks.publish.atomic import OutputNotWritableError, names_output_problem
    from tasks.publish.atomic import output_write_problem as problem

    quiet = _ExpectedErrorFilter(
        (OutputNotWritableError,),
        also=lambda error: problem(error, output) is not None,
        also_text=names_output_problem,
    )
    return _exit_on(OutputNotWritableError, code=EXIT_OUTPUT, debug=debug, quiet=quiet)


def _flow_inputs(
    events: str | None, config: "ScoringConfig", output: Path, customers: Path | str | None
) -> dict[str, Any]:
    """The parameters every flow takes alike: events, config, output and customers."""
    return {
        "events": events,
        "config": config,
        "output": str(output),
        "customers": str(customers) if customers else None,
    }


def counted(counts: dict[str, int]) -> str:
    """`at_risk 609, upsell_ready 445`: counts as people read them."""
    return ", ".join(f"{name} {count:,}" for name, count in counts.items()) or "none"


def print_summary(summary: "RunSummary") -> None:
    """A table of what the run read, quarantined and scored, and where the outputs are."""
    from flows.daily import validation_counts
    from tasks.quality.validate import escaped_counts
    from tasks.report.run_report import no_customers_reason

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
    console.print(counts)
    if not scoring.customers:
        reason = no_customers_reason(validation_counts(validation), summary.run_date)
        console.print(
            f"[yellow]no customer was scored:[/] {reason}; every table is published "
            "empty, with its schema"
        )

    tiers = Table(title="customers per tier")
    tiers.add_column("tier")
    tiers.add_column("customers", justify="right")
    tiers.add_column("share", justify="right")
    for tier, customers in scoring.tiers.items():
        share = customers / scoring.customers if scoring.customers else 0.0
        tiers.add_row(tier, f"{customers:,}", f"{share:.1%}")
    console.print(tiers)

    if validation.quarantine_reasons:
        reasons = Table(title="quarantine reasons")
        reasons.add_column("reason")
        reasons.add_column("rows", justify="right")
        for reason, rows in validation.quarantine_reasons.items():
            reasons.add_row(reason, f"{rows:,}")
        console.print(reasons)
    if scoring.unweighted_event_types:
        unweighted = escaped_counts(scoring.unweighted_event_types)
        # event types are data: `[/x]` is not rich markup
        console.print(f"unweighted event types (counted 0): {unweighted}", markup=False)
    if summary.followups is not None:
        print_call_list(summary)
    if validation.unknown_event_types:
        unknown = escaped_counts(validation.unknown_event_types)
        console.print(f"event types not in the catalogue (kept): {unknown}", markup=False)
    if summary.data_docs:
        console.print(f"Data Docs: {summary.data_docs}")
    if summary.run_report:
        console.print(f"run report: {summary.run_report}")
    console.print("outputs:")
    for path in summary.published:
        console.print(f"  {path}")


CALL_LIST_SHOWN = 10


def print_call_list(summary: "RunSummary") -> None:
    """The size of the call list and the queue, and the top of the call list."""
    import polars as pl

    followups = summary.followups
    assert followups is not None
    statuses = followups.statuses
    calls = statuses.get("new", 0) + statuses.get("open", 0)
    console.print(
        f"call list: {calls:,} ({statuses.get('new', 0):,} new, {statuses.get('open', 0):,} "
        f"open); queue: {statuses.get('queued', 0):,} over capacity; "
        f"{followups.deliveries:,} action(s) to deliver"
        + (" (baseline run: flags queued, see --deliver-baseline)" if followups.baseline else "")
    )
    flags_file = Path(summary.output) / "flags" / f"run_date={summary.run_date}" / "part-0.parquet"
    top = (
        pl.read_parquet(flags_file)
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
    console.print(table)


def _run(
    events: str | None,
    config_path: Path,
    run_date: date,
    output: Path,
    customers: Path | str | None = None,
    *,
    source: str | None = None,
    incremental: bool = False,
    allow_future: bool = False,
    deliver_baseline: bool = False,
    debug: bool = False,
    context: typer.Context | None = None,
) -> None:
    """Check the run's arguments and inputs (pre-flight: exit 2 or 4 within a second), then run
    the daily flow (in `engage server`'s runner, given the command's `context`, if one runs) and
    print what it did."""
    from flows.preflight import daily_inputs

    with _preflight_errors(debug):
        inputs = daily_inputs(
            run_date, config_path, events, source, customers, output, allow_future
        )
    if context is not None:
        _hand_over(context)
    console.print(f"scoring {run_date} from {events or 'source ' + str(source)} into {output} ...")
    options = {"incremental": incremental, "deliver_baseline": deliver_baseline}
    print_summary(_scored(inputs, events, output, customers, options, debug))


def _scored(
    inputs: "DailyInputs",
    events: str | None,
    output: Path,
    customers: Path | str | None,
    options: dict[str, bool],
    debug: bool,
) -> "RunSummary":
    """The daily flow's summary (`options`: its boolean parameters); its expected errors end the
    command with their exit status."""
    from flows.engage_server import prefect_api

    with prefect_api() as server:  # a temporary server starts while the flows are imported
        from flows.daily import daily_scoring
        from flows.preflight import FutureRunDateError
        from tasks.extract.files import EventInputError
        from tasks.quality.validate import QualityGateError

        if server is not None:
            server.wait()
        # EventInputError covers the customers table (CustomersInputError), sources (SourceError)
        with (
            _exit_on(EventInputError, FutureRunDateError, debug=debug),
            _gate_errors(QualityGateError, debug),
            _output_errors(output, debug),
        ):
            return daily_scoring(
                run_date=inputs.run_date,
                source=inputs.source,
                **options,
                allow_future=True,  # checked by the pre-flight, against the same clock
                **_flow_inputs(events, inputs.config, output, customers),
            )


@app.command()
def run(
    context: typer.Context,
    config: Annotated[Path, typer.Option(help="Scoring configuration (YAML).")],
    run_date: Annotated[str, typer.Option(help="The day to score, YYYY-MM-DD.")],
    events: Annotated[str | None, typer.Option(help=EVENTS_HELP)] = None,
    output: Output = Path("output"),
    customers: Customers = None,
    source: Annotated[
        str | None,
        typer.Option(help="A source named in the config's `sources` section (read incrementally)."),
    ] = None,
    incremental: Annotated[
        bool,
        typer.Option(
            help="Read only new or changed files; score from the daily aggregates kept in "
            "<output>/_state/daily_aggregates/ (same results as a full read)."
        ),
    ] = False,
    allow_future: AllowFuture = False,
    debug: Debug = False,
    deliver_baseline: Annotated[
        bool,
        typer.Option(
            help="A first run (no earlier history under --output) delivers its flags up to the "
            "follow-up capacity instead of queueing them all."
        ),
    ] = False,
) -> None:
    """Score every customer for one run date and write the Parquet outputs."""
    from flows.preflight import parsed_date

    with _preflight_errors(debug):
        day = parsed_date(run_date, "--run-date")
    _run(
        events,
        config,
        day,
        output,
        customers,
        source=source,
        incremental=incremental,
        allow_future=allow_future,
        deliver_baseline=deliver_baseline,
        debug=debug,
        context=context,
    )


@app.command()
def demo(
    context: typer.Context,
    output: Annotated[Path, typer.Option(help="Directory for demo data and outputs.")] = Path(
        "demo-output"
    ),
    run_date: Annotated[str, typer.Option(help="The day to score, YYYY-MM-DD.")] = str(
        DEMO_RUN_DATE
    ),
    customers: Annotated[int, typer.Option(help="Customers in the generated data.")] = 2000,
    debug: Debug = False,
) -> None:
    """Generate the seeded demo data and run the daily flow on it for two consecutive days:
    the day before RUN_DATE (a baseline: its flags are queued) and RUN_DATE (fresh drops on
    top of the call list, the queue offered within capacity); after each, write the CRM drop
    as the follow-up flow does (no webhook)."""
    from demo.data import write_demo_dataset
    from flows.preflight import parsed_date
    from flows.settings import bundled_config_path
    from tasks.publish.atomic import check_output_writable

    with _preflight_errors(debug):
        day = parsed_date(run_date, "--run-date")
        check_output_writable(output)
    _hand_over(context)
    console.print(f"generating demo events for {customers:,} customers ...")
    dataset = write_demo_dataset(output / "input", end_date=day, customers=customers)
    console.print(f"  {dataset['rows']:,} rows -> {dataset['events']}")
    from flows.engage_server import prefect_api

    # one Prefect API for both days and their deliveries; the demo's events are generated up to
    # its run date, whatever today is
    with prefect_api() as server:
        if server is not None:
            server.wait()
        for run_day in (day - timedelta(days=1), day):
            _run(
                str(dataset["events"]),
                bundled_config_path(),
                run_day,
                output,
                dataset["customers"],
                allow_future=True,
                debug=debug,
            )
            _demo_delivery(run_day, output)


@contextmanager
def _without_environment_variable(name: str) -> Iterator[None]:
    """The block runs with `name` unset; its value (if any) is restored after."""
    value = os.environ.pop(name, None)
    try:
        yield
    finally:
        if value is not None:
            os.environ[name] = value


def _demo_delivery(run_date: date, output: Path) -> None:
    """Deliver a demo day as the follow-up deployment would: the CRM drop, whole and per owner
    (never a webhook: the demo's customers are made up)."""
    from flows.followups import deliver_followups

    with _without_environment_variable("ENGAGE_WEBHOOK_URL"):
        report = deliver_followups(run_date=run_date, output=str(output))
    owners = [f for f in report.drop_files if "by_owner" in Path(f).parts]
    console.print(
        f"CRM drop: {report.actions:,} action(s) -> {Path(report.drop_files[0]).parent} "
        f"({len(owners)} file(s) per owner)"
    )


def _auc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _print_backtest_auc(report: "BacktestReport") -> None:
    auc = Table(title="ROC AUC (higher score = less churn)")
    auc.add_column("configuration")
    auc.add_column("out of time (test dates)", justify="right")
    auc.add_column("train dates (in sample)", justify="right")
    for name in ("current", "suggested", "uniform"):
        auc.add_row(name, _auc(report.auc_test.get(name)), _auc(report.auc_train.get(name)))
    console.print(auc)
    labels = (
        "silence over the horizon" if report.labels_source == "silence" else report.labels_source
    )
    console.print(
        f"labels: {labels}; train dates {report.train_dates[0]}..{report.train_dates[-1]} "
        f"({len(report.train_dates)}), test dates {report.test_dates[0]}.."
        f"{report.test_dates[-1]} ({len(report.test_dates)}): "
        f"{report.observations:,} test observations, {report.churned:,} churned"
    )
    if report.dropped_observations:
        console.print(
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
    console.print(candidates)
    console.print(f"chosen: {report.choice['reason']}")


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
    console.print(tiers)
    console.print(f"suggested tiers: {report.tier_note}")


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
    console.print(rules)


def print_backtest_summary(report: "BacktestReport") -> None:
    """AUCs of current / suggested / uniform, the candidates, tiers, rules, warnings, outputs."""
    _print_backtest_auc(report)
    _print_backtest_candidates(report)
    _print_backtest_tiers(report)
    _print_rule_evidence(report)
    new_types = [w["event_type"] for w in report.weights if w["status"] == "new"]
    if new_types:
        console.print(f"suggested new event types (not in the config): {', '.join(new_types)}")
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if report.dropped_dates:
        dropped = ", ".join(map(str, report.dropped_dates))
        console.print(f"[yellow]dropped (horizon beyond the last event):[/] {dropped}")
    if report.empty_dates:
        empty = ", ".join(map(str, report.empty_dates))
        console.print(f"[yellow]no observed customer on:[/] {empty}")
    if report.skipped_segment_columns:
        skipped = ", ".join(report.skipped_segment_columns)
        console.print(f"customer columns not used as segments (1 or > 20 values): {skipped}")
    console.print(f"suggested config: {report.suggested_config_path}")
    console.print(f"report: {report.report_path}")
    console.print(f"tables: {Path(report.report_path).parent}/*.parquet")


@app.command()
def backtest(
    context: typer.Context,
    events: Events,
    config: Annotated[Path, typer.Option(help="Scoring configuration (YAML); never modified.")],
    from_: Annotated[str, typer.Option("--from", help="First observation date, YYYY-MM-DD.")],
    to: Annotated[str, typer.Option(help="Last possible observation date, YYYY-MM-DD.")],
    every: Annotated[int, typer.Option(min=1, help="Days between observation dates.")] = 7,
    horizon: Annotated[int, typer.Option(min=1, help="Churn horizon in days.")] = 30,
    output: Annotated[Path, typer.Option(help="Directory of the backtest outputs.")] = Path(
        "output"
    ),
    customers: BacktestCustomers = None,
    labels: Labels = None,
    debug: Debug = False,
) -> None:
    """Backtest the score against churn and suggest a better configuration (weights, window,
    half-life, tiers), evaluated out of time."""
    from flows import preflight
    from flows.engage_server import prefect_api

    with _preflight_errors(debug):
        start, end = _date_range(from_, to, "--from", "--to")
        scoring_config = preflight.checked_config(config)
        preflight.checked_events(events)
        preflight.checked_file(customers, "customers table", "--customers")
        preflight.checked_file(labels, "labels file", "--labels")
        preflight.check_output_writable(output)
    _hand_over(context)
    with prefect_api() as server:  # a temporary server starts while the flows are imported
        from flows.backtest import backtest as backtest_flow
        from tasks.backtest.inputs import BacktestInputError
        from tasks.backtest.run import refuse_overwriting
        from tasks.extract.files import EventInputError
        from tasks.quality.validate import QualityGateError

        with _exit_on(BacktestInputError, debug=debug):
            refuse_overwriting(str(config), output)
        console.print(f"backtesting {start}..{end} every {every} d, horizon {horizon} d ...")
        if server is not None:
            server.wait()
        with (
            _exit_on(EventInputError, BacktestInputError, debug=debug),
            _gate_errors(QualityGateError, debug),
            _output_errors(output, debug),
        ):
            report = backtest_flow(
                start=start,
                end=end,
                every_days=every,
                horizon_days=horizon,
                config_source=str(config),
                **_flow_inputs(events, scoring_config, output, customers),
                labels=str(labels) if labels else None,
            )
    print_backtest_summary(report)


@app.command()
def backfill(
    context: typer.Context,
    start: Annotated[str, typer.Option(help="First run date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last run date (included), YYYY-MM-DD.")],
    events: Events,
    config: Annotated[Path, typer.Option(help="Scoring configuration (YAML).")],
    output: Output = Path("output"),
    force: Annotated[bool, typer.Option(help="Rescore dates whose outputs are complete.")] = False,
    max_concurrent: Annotated[
        int, typer.Option(min=1, max=8, help="Run dates scored at once.")
    ] = 2,
    customers: Customers = None,
    debug: Debug = False,
) -> None:
    """Score every run date from START to END, skipping dates already complete (resumable)."""
    from flows import preflight
    from flows.engage_server import prefect_api

    with _preflight_errors(debug):
        first, last = _date_range(start, end, "--start", "--end")
        preflight.refuse_future_run_date(last, False, "end the backfill on a date that has begun")
        scoring_config = preflight.checked_config(config)
        preflight.checked_events(events)
        preflight.checked_customers(customers, scoring_config)
        preflight.check_output_writable(output)
    _hand_over(context)
    console.print(f"backfilling {first} to {last} from {events} into {output} ...")
    with prefect_api() as server:  # a temporary server starts while the flows are imported
        from flows.backfill import BackfillFailed, backfill_scoring

        if server is not None:
            server.wait()
        with _exit_on(BackfillFailed, debug=debug):
            summary = backfill_scoring(
                start=first,
                end=last,
                force=force,
                max_concurrent=max_concurrent,
                **_flow_inputs(events, scoring_config, output, customers),
            )
    console.print(
        f"{len(summary.scored)} scored, {len(summary.skipped)} skipped (already complete)"
    )


server_app = typer.Typer(
    help="A Prefect server and a warm runner in the background: later commands start in "
    "seconds (flows/engage_server.py).",
    no_args_is_help=True,
)
app.add_typer(server_app, name="server")


@server_app.command("start")
def server_start() -> None:
    """Start a Prefect server (unless PREFECT_API_URL names one) and the warm runner in the
    background (state and logs under ENGAGE_SERVER_HOME, default ~/.engage/server); every
    later run, backfill, backtest or demo is handed to the runner."""
    from flows.engage_server import server_home, start

    console.print(f"starting engage server under {server_home()} ...")
    try:
        state = start()
    except RuntimeError as error:
        raise _fail(str(error), code=1) from error
    ui = f"; UI {state.api_url.removesuffix('/api')}" if state.server_pid else ""
    console.print(f"engage server: Prefect API {state.api_url}{ui}; runner pid {state.runner_pid}")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the runner and the Prefect server `engage server start` started."""
    from flows.engage_server import stop

    state = stop()
    console.print("engage server stopped" if state else "engage server was not running")


@server_app.command("status")
def server_status() -> None:
    """Whether `engage server` runs, with its Prefect API."""
    from flows.engage_server import code_fingerprint, running_state

    state = running_state()
    if state is None:
        console.print("engage server is not running (start it: engage server start)")
        raise typer.Exit(1)
    stale = "" if state.fingerprint == code_fingerprint() else " (runs older code: restart it)"
    console.print(
        f"engage server runs: Prefect API {state.api_url}, runner pid {state.runner_pid}{stale}"
    )
