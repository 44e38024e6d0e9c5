"""`engage`: the command line. Checks its arguments and inputs first (flows/preflight.py,
before Prefect is even imported), then runs the Prefect flows and prints a summary of what
they did: handed to `engage server`'s warm runner when one runs, else against PREFECT_API_URL
or a temporary Prefect server started while the flows are imported (flows/engage_server.py).

Exit status: 0 done; 2 a bad argument, input or configuration; 3 stopped by the data-quality
gate; 4 the output cannot be written (full, read-only, not a directory). Each error is one line
on stderr; `--debug` adds the traceback.
"""

import os
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flows import terminal
from flows.cli_options import (
    EVENTS_HELP,
    AllowFuture,
    BacktestCustomers,
    Customers,
    Debug,
    Events,
    Labels,
    Output,
)
from flows.cli_output import print_backtest_summary, print_summary, show
from flows.cli_server import server_app
from flows.terminal import (
    ExpectedErrorFilter,
    exit_on,
    gate_errors,
    output_errors,
    preflight_errors,
)

# Set before Prefect is imported: an ephemeral server needs 8-16 s to start on two cores.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

try:  # Typer 0.2x raises the errors of the Click it vendors; earlier ones Click's own
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older Typer
    from click import exceptions as click_errors  # type: ignore[no-redef]

if TYPE_CHECKING:
    from flows.daily import RunSummary
    from flows.preflight import DailyInputs
    from scoring.config import ScoringConfig

DEMO_RUN_DATE = date(2026, 3, 31)

app = typer.Typer(
    help="Customer engagement scoring: extract, validate, score and write Parquet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def main() -> None:
    """The `engage` console script. A command that runs a flow is handed, once its pre-flight
    checks pass, to `engage server`'s warm runner when one runs (flows/engage_server.py)."""
    sys.exit(invoked(sys.argv[1:]))


PATH_OPTIONS = ("--output", "--config", "--customers", "--labels", "--events")
"""The options whose value is a path: an empty one is refused (empty_path_option)."""


def empty_path_option(argv: list[str]) -> str | None:
    """The first PATH_OPTIONS option given an empty value in `argv` (`--output ""` or
    `--output=`), if any."""
    for word, following in zip(argv, [*argv[1:], None], strict=True):
        option, equals, value = word.partition("=")
        given = value if equals else following  # None: no value (Click says so)
        if option in PATH_OPTIONS and given is not None and not given.strip():
            return option
    return None


def invoked(argv: list[str]) -> int:
    """Run the command line `argv`; its exit status. A usage error (a missing, unknown or
    out-of-range option) is one line on stderr saying where the help is, as every other error
    (exit 2), not Click's usage box. An empty path (an unset variable) is refused as one: Click
    reads `--output ""` as the working directory."""
    if option := empty_path_option(argv):
        terminal.fail(f"{option} is empty (an unset variable?); give a path")
        return 2
    try:
        status = app(args=argv, prog_name="engage", obj={"argv": argv}, standalone_mode=False)
    except click_errors.UsageError as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # `engage` alone: the help
            error.show()
        else:
            command = error.ctx.command_path if error.ctx else "engage"
            terminal.fail(f"{command}: {error.format_message()} (see {command} --help)")
        return error.exit_code
    except click_errors.ClickException as error:
        terminal.fail(error.format_message(), code=error.exit_code)
        return error.exit_code
    except typer.Abort:  # Ctrl-C: what Click says in its own main
        terminal.errors.print("Aborted!")
        return 1
    return status if isinstance(status, int) else 0


def _hand_over(context: typer.Context) -> None:
    """End the command with the exit status of the same command run by `engage server`'s warm
    runner, when one runs and the command came from the console script."""
    from flows.engage_server import handed_to_runner

    argv = (context.obj or {}).get("argv")
    if argv is not None and (status := handed_to_runner(argv)) is not None:
        raise typer.Exit(status)


def _date_range(first: str, last: str, first_option: str, last_option: str) -> tuple[date, date]:
    """Two dates in order, or PreflightError naming the options."""
    from flows.preflight import PreflightError, parsed_date

    start, end = parsed_date(first, first_option), parsed_date(last, last_option)
    if end < start:
        raise PreflightError(f"{last_option} {end} is before {first_option} {start}")
    return start, end


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

    with preflight_errors(debug):
        inputs = daily_inputs(
            run_date, config_path, events, source, customers, output, allow_future
        )
    if context is not None:
        _hand_over(context)
    show(f"scoring {run_date} from {events or 'source ' + str(source)} into {output} ...")
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
        from tasks.score.daily_aggregates import AggregateStoreError

        if server is not None:
            server.wait()
        # EventInputError covers the customers table (CustomersInputError), sources (SourceError)
        with (
            exit_on(EventInputError, FutureRunDateError, AggregateStoreError, debug=debug),
            gate_errors(QualityGateError, debug),
            output_errors(output, debug),
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

    with preflight_errors(debug):
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
    customers: Annotated[
        int, typer.Option(min=1, help="Customers in the generated data (at most 100,000).")
    ] = 2000,
    debug: Debug = False,
) -> None:
    """Generate the seeded demo data and run the daily flow on it for two consecutive days:
    the day before RUN_DATE (a baseline: its flags are queued) and RUN_DATE (fresh drops on
    top of the call list, the queue offered within capacity); after each, write the CRM drop
    as the follow-up flow does (no webhook)."""
    from demo.data import write_demo_dataset
    from flows.preflight import parsed_date, refuse_large_demo
    from flows.settings import bundled_config_path, settings
    from tasks.publish.atomic import check_output_writable

    with preflight_errors(debug):
        day = parsed_date(run_date, "--run-date")
        refuse_large_demo(customers)
        settings()  # the ENGAGE_* variables the flows read
        check_output_writable(output)
    _hand_over(context)
    show(f"generating demo events for {customers:,} customers ...")
    dataset = write_demo_dataset(output / "input", end_date=day, customers=customers)
    show(f"  {dataset['rows']:,} rows -> {dataset['events']}")
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


def _demo_delivery(run_date: date, output: Path) -> None:
    """Deliver a demo day as the follow-up deployment would: the CRM drop, whole and per owner
    (never a webhook: the demo's customers are made up)."""
    from flows.engage_server import environment_variable
    from flows.followups import deliver_followups

    with environment_variable("ENGAGE_WEBHOOK_URL", None):
        report = deliver_followups(run_date=run_date, output=str(output))
    owners = [f for f in report.drop_files if "by_owner" in Path(f).parts]
    show(
        f"CRM drop: {report.actions:,} action(s) -> {Path(report.drop_files[0]).parent} "
        f"({len(owners)} file(s) per owner)"
    )


@app.command()
def backtest(
    context: typer.Context,
    events: Events,
    config: Annotated[Path, typer.Option(help="Scoring configuration (YAML); never modified.")],
    from_: Annotated[str, typer.Option("--from", help="First observation date, YYYY-MM-DD.")],
    to: Annotated[str, typer.Option(help="Last possible observation date, YYYY-MM-DD.")],
    every: Annotated[int, typer.Option(min=1, help="Days between observation dates.")] = 7,
    horizon: Annotated[int, typer.Option(min=1, max=3660, help="Churn horizon in days.")] = 30,
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

    with preflight_errors(debug):
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

        with exit_on(BacktestInputError, debug=debug):
            refuse_overwriting(str(config), output)
        show(f"backtesting {start}..{end} every {every} d, horizon {horizon} d ...")
        if server is not None:
            server.wait()
        with (
            exit_on(EventInputError, BacktestInputError, debug=debug),
            gate_errors(QualityGateError, debug),
            output_errors(output, debug),
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

    with preflight_errors(debug):
        first, last = _date_range(start, end, "--start", "--end")
        preflight.refuse_long_backfill(first, last, "--start", "--end")
        preflight.refuse_future_run_date(last, False, "end the backfill on a date that has begun")
        scoring_config = preflight.checked_config(config)
        preflight.checked_events(events)
        preflight.checked_customers(customers, scoring_config)
        preflight.check_output_writable(output)
    _hand_over(context)
    show(f"backfilling {first} to {last} from {events} into {output} ...")
    with prefect_api() as server:  # a temporary server starts while the flows are imported
        from flows.backfill import BackfillFailed, backfill_scoring
        from flows.preflight import FutureRunDateError
        from tasks.extract.files import EventInputError
        from tasks.publish.atomic import OutputNotWritableError
        from tasks.quality.validate import QualityGateError

        if server is not None:
            server.wait()
        # a date's expected error is one line of the backfill's log, not the tracebacks of
        # its run and task
        failures = (EventInputError, FutureRunDateError, QualityGateError, OutputNotWritableError)
        quiet = ExpectedErrorFilter((BackfillFailed, *failures))
        with exit_on(BackfillFailed, debug=debug, quiet=quiet):
            summary = backfill_scoring(
                start=first,
                end=last,
                force=force,
                max_concurrent=max_concurrent,
                **_flow_inputs(events, scoring_config, output, customers),
            )
    show(f"{len(summary.scored)} scored, {len(summary.skipped)} skipped (already complete)")


app.add_typer(server_app, name="server")
