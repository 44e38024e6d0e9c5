"""Pre-flight checks: every mistake that can be known before Prefect starts (dates, the
configuration, the input files' columns, the customers table, the output directory), each
reported in one line naming the file, row or key and the fix.

The command line runs them before importing Prefect or Great Expectations (this module imports
neither), so a mistake costs a second, not a server start; the daily flow repeats the run date
check (`refuse_future_run_date`) for runs started from the Prefect UI.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flows.settings import ConfigFileError, SettingsError, load_config, load_source, settings
from scoring.config import ScoringConfig
from scoring.run_dates import RUN_DATES, latest_started_date
from scoring.schema import EVENT_COLUMN_NAMES
from tasks.extract.customers import CustomersInputError, customers_header
from tasks.extract.files import (
    EventInputError,
    event_files,
    header_columns,
    missing_columns_message,
    reserved_columns_message,
)
from tasks.extract.sources.config import SourceConfig
from tasks.publish.atomic import OutputNotWritableError
from tasks.publish.atomic import check_output_writable as check_output_writable


class PreflightError(ValueError):
    """A mistake in the command's arguments or input files, found before anything ran."""


class FutureRunDateError(ValueError):
    """A run date no time zone has reached yet: it has no events, and scoring it would publish
    every customer as inactive."""


EXPECTED = (PreflightError, FutureRunDateError, ConfigFileError, SettingsError, EventInputError)
"""The pre-flight's errors of a bad argument or input (exit status 2)."""
NOT_WRITABLE = OutputNotWritableError
"""The pre-flight's error of an output that cannot be written (exit status 4)."""


def parsed_date(text: str, option: str) -> date:
    """A YYYY-MM-DD date within RUN_DATES, or PreflightError naming the option."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as error:
        raise PreflightError(f"{option} {text!r} is not a date in the form YYYY-MM-DD") from error
    refuse_run_date_out_of_range(day, option)
    return day


def refuse_run_date_out_of_range(run_date: date, what: str = "run_date") -> None:
    """PreflightError naming `what` when `run_date` is outside RUN_DATES (the command line's
    dates and the flow's, as a run started from the UI gives it)."""
    first, last = RUN_DATES
    if not first <= run_date <= last:
        raise PreflightError(
            f"{what} {run_date} is out of range: give a date from {first} to {last}"
        )


MAX_BACKFILL_DAYS = 3660
"""The most run dates one backfill scores (ten years): a longer range is more likely a typo
(1900 for 2026) than a plan, and would start a daily run for each of its days."""


def refuse_long_backfill(start: date, end: date, first: str = "start", last: str = "end") -> None:
    """PreflightError naming the options `first` and `last` when `start`..`end` (both included)
    spans more than MAX_BACKFILL_DAYS run dates; the message gives the first piece to run."""
    days = (end - start).days + 1
    if days > MAX_BACKFILL_DAYS:
        piece_end = start + timedelta(days=MAX_BACKFILL_DAYS - 1)
        raise PreflightError(
            f"{first} {start} to {last} {end} is {days:,} run dates; a backfill scores at most "
            f"{MAX_BACKFILL_DAYS:,}: split it into backfills of at most {MAX_BACKFILL_DAYS:,} "
            f"days, the first {first} {start} {last} {piece_end}"
        )


MAX_DEMO_CUSTOMERS = 100_000
"""The most customers `engage demo` generates: about 140 events each, made in memory (some
60 kB a customer at the peak, 6 GB for the most), so a typo of 10,000,000 ran out of memory."""


def refuse_large_demo(customers: int) -> None:
    """PreflightError when the demo is asked for more than MAX_DEMO_CUSTOMERS customers."""
    if customers > MAX_DEMO_CUSTOMERS:
        raise PreflightError(
            f"--customers {customers:,} is more than the demo generates "
            f"({MAX_DEMO_CUSTOMERS:,}: its events are made in memory); give at most "
            f"{MAX_DEMO_CUSTOMERS:,}"
        )


def refuse_future_run_date(
    run_date: date, allow_future: bool, fix: str, now: datetime | None = None
) -> None:
    """Raise FutureRunDateError when `run_date` has not begun anywhere yet, unless allowed;
    the message ends with `fix`."""
    latest = latest_started_date(now or datetime.now(UTC))
    if run_date > latest and not allow_future:
        raise FutureRunDateError(
            f"run date {run_date} is in the future (no time zone has reached it; today is "
            f"{latest} at the latest) and has no events yet; {fix}"
        )


def checked_config(path: Path) -> ScoringConfig:
    """The configuration of a file (ConfigFileError names the file and key), once the ENGAGE_*
    environment variables the flows read are known to fit (SettingsError names the variable)."""
    settings()
    return load_config(path)


def checked_events(pattern: str) -> list[str]:
    """The event files of `pattern`, each with the required columns in its header (CSV) or
    schema (Parquet); EventInputError names the file and the fix."""
    files = event_files(pattern)
    for file in files:
        columns = header_columns(file)
        if columns is None:
            continue
        problem = missing_columns_message(file.path, columns, EVENT_COLUMN_NAMES)
        if problem := problem or reserved_columns_message(file.path, columns):
            raise EventInputError(problem)
    return [file.path for file in files]


def checked_customers(path: Path | str | None, config: ScoringConfig | None = None) -> None:
    """A customers table that exists and declares customer_id and the columns the configured
    follow-up rules read (plan for plan-based rules)."""
    if path is None:
        return
    if not Path(path).is_file():
        raise CustomersInputError(f"{path}: customers table not found; check --customers")
    needed = config.followups.customer_columns_needed() if config and config.followups else {}
    customers_header(str(path), needed)


def checked_file(path: Path | None, what: str, option: str) -> None:
    """An optional input file that must exist."""
    if path is not None and not path.is_file():
        raise PreflightError(f"{path}: {what} not found; check {option}")


@dataclass(frozen=True)
class DailyInputs:
    """What a daily run's arguments resolve to, once checked."""

    run_date: date
    config: ScoringConfig
    source: SourceConfig | None


def daily_inputs(
    run_date: date,
    config: Path,
    events: str | None,
    source: str | None,
    customers: Path | str | None,
    output: Path,
    allow_future: bool = False,
) -> DailyInputs:
    """Check a daily run's arguments and inputs in the order a user fixes them: the command
    line, the configuration, the inputs, the output."""
    refuse_future_run_date(run_date, allow_future, "pass --allow-future to score it anyway")
    if (events is None) == (source is None):
        raise PreflightError("give exactly one of --events <path|glob> or --source <name>")
    scoring_config = checked_config(config)
    source_config = load_source(config, source) if source else None
    if events is not None:
        checked_events(events)
    checked_customers(customers, scoring_config)
    check_output_writable(output)
    return DailyInputs(run_date, scoring_config, source_config)
