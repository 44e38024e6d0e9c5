"""`engage`: the command line. Runs the Prefect flows (an ephemeral Prefect server is started
when no PREFECT_API_URL is set) and prints a summary of what they did."""

import os
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

DEMO_RUN_DATE = date(2026, 3, 31)

app = typer.Typer(
    help="Customer engagement scoring: extract, validate, score and write Parquet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


def _parse_date(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is not a date in the form YYYY-MM-DD") from error


def _fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def print_summary(summary: "RunSummary") -> None:
    """A table of what the run read, quarantined and scored, and where the outputs are."""
    validation, scoring = summary.validation, summary.scoring
    counts = Table(title=f"engage run {summary.run_date}", show_header=False)
    counts.add_row("input files", str(len(summary.input_files)))
    counts.add_row("rows read", f"{validation.rows_read:,}")
    counts.add_row("rows valid (scored)", f"{validation.rows_valid:,}")
    counts.add_row("rows quarantined", f"{validation.rows_quarantined:,}")
    counts.add_row("duplicates removed", f"{validation.duplicates_removed:,}")
    counts.add_row("customers scored", f"{scoring.customers:,}")
    counts.add_row("events in window", f"{scoring.events_in_window:,}")
    console.print(counts)

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
        unweighted = ", ".join(scoring.unweighted_event_types)
        console.print(f"unweighted event types (counted 0): {unweighted}")
    console.print("outputs:")
    for path in summary.published:
        console.print(f"  {path}")


def _run(events: str, config_path: Path, run_date: date, output: Path) -> None:
    from flows.daily import daily_scoring
    from flows.settings import ConfigFileError, load_config
    from tasks.extract import EventInputError

    try:
        config = load_config(config_path)
    except ConfigFileError as error:
        raise _fail(str(error)) from error
    console.print(f"scoring {run_date} from {events} into {output} ...")
    try:
        summary = daily_scoring(events=events, config=config, run_date=run_date, output=str(output))
    except EventInputError as error:
        raise _fail(str(error)) from error
    print_summary(summary)


@app.command()
def run(
    events: Annotated[
        str, typer.Option(help="Event file, directory or glob (CSV/NDJSON/Parquet).")
    ],
    config: Annotated[Path, typer.Option(help="Scoring configuration (YAML).")],
    run_date: Annotated[str, typer.Option(help="The day to score, YYYY-MM-DD.")],
    output: Annotated[Path, typer.Option(help="Directory of the Parquet outputs.")] = Path(
        "output"
    ),
) -> None:
    """Score every customer for one run date and write the Parquet outputs."""
    _run(events, config, _parse_date(run_date), output)


@app.command()
def demo(
    output: Annotated[Path, typer.Option(help="Directory for demo data and outputs.")] = Path(
        "demo-output"
    ),
    run_date: Annotated[str, typer.Option(help="The day to score, YYYY-MM-DD.")] = str(
        DEMO_RUN_DATE
    ),
    customers: Annotated[int, typer.Option(help="Customers in the generated data.")] = 2000,
) -> None:
    """Generate the seeded demo data and run the daily flow on it."""
    from flows.settings import bundled_config_path
    from tasks.demo_data import write_demo_dataset

    day = _parse_date(run_date)
    console.print(f"generating demo events for {customers:,} customers ...")
    dataset = write_demo_dataset(output / "input", end_date=day, customers=customers)
    console.print(f"  {dataset['rows']:,} rows -> {dataset['events']}")
    _run(str(dataset["events"]), bundled_config_path(), day, output)


@app.command()
def backfill(
    start: Annotated[str, typer.Option(help="First run date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last run date (included), YYYY-MM-DD.")],
    events: Annotated[
        str, typer.Option(help="Event file, directory or glob (CSV/NDJSON/Parquet).")
    ],
    config: Annotated[Path, typer.Option(help="Scoring configuration (YAML).")],
    output: Annotated[Path, typer.Option(help="Directory of the Parquet outputs.")] = Path(
        "output"
    ),
    force: Annotated[bool, typer.Option(help="Rescore dates whose outputs are complete.")] = False,
    max_concurrent: Annotated[int, typer.Option(help="Run dates scored at once.")] = 2,
) -> None:
    """Score every run date from START to END, skipping dates already complete (resumable)."""
    from flows.backfill import BackfillFailed, backfill_scoring
    from flows.settings import ConfigFileError, load_config

    first, last = _parse_date(start), _parse_date(end)
    if last < first:
        raise _fail(f"--end {last} is before --start {first}")
    try:
        scoring_config = load_config(config)
    except ConfigFileError as error:
        raise _fail(str(error)) from error
    console.print(f"backfilling {first} to {last} from {events} into {output} ...")
    try:
        summary = backfill_scoring(
            start=first,
            end=last,
            force=force,
            max_concurrent=max_concurrent,
            events=events,
            config=scoring_config,
            output=str(output),
        )
    except BackfillFailed as error:
        raise _fail(str(error)) from error
    console.print(
        f"{len(summary.scored)} scored, {len(summary.skipped)} skipped (already complete)"
    )
