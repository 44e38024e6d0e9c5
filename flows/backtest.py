"""The backtest flow: extract -> validate -> backtest (labels, point-in-time scores, fit,
figures) -> report, over the observation dates from `start` to `end`."""

from datetime import date

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.daily import validated_message
from flows.settings import bundled_config_path, load_config, settings
from scoring.backtest import observation_dates
from scoring.config import ScoringConfig
from tasks.backtest.inputs import BacktestInputError
from tasks.backtest.run import BacktestReport, refuse_overwriting, run_backtest
from tasks.extract.events import extract_events, find_event_files
from tasks.publish.atomic import discard
from tasks.publish.write import new_staging_dir
from tasks.quality.validate import validate_events


def backtest_run_name() -> str:
    """Flow run name with the range, e.g. `backtest-2026-01-01-2026-03-01`."""
    parameters = flow_run.parameters
    return f"backtest-{parameters.get('start')}-{parameters.get('end')}"


@flow(name="engagement-backtest", flow_run_name=backtest_run_name, log_prints=True)
def backtest(
    start: date,
    end: date,
    events: str | None = None,
    config: ScoringConfig | None = None,
    output: str | None = None,
    every_days: int = 7,
    horizon_days: int = 30,
    customers: str | None = None,
    config_source: str | None = None,
    labels: str | None = None,
) -> BacktestReport:
    """Backtest the score on the observation dates start, start + every_days, ... <= end:
    how well it predicts churn over `horizon_days`, and which configuration (weights, window,
    half-life, tiers) would predict better. With `labels` (CSV or Parquet: customer_id,
    observation_date, churned 0/1, optional observed_until) churn is read from them, on their
    dates from `start` to `end`. Events are validated with the configuration's `validation`
    section, as `engage run` does.

    Writes `<output>/backtest/` (Parquet tables, report.html) and `<output>/suggested_config.yaml`
    (the configuration given is never modified). Unset parameters come from the environment
    (ENGAGE_EVENTS, ENGAGE_CONFIG, ENGAGE_OUTPUT).
    """
    logger = get_run_logger()
    if horizon_days < 1:
        raise BacktestInputError(f"horizon must be at least 1 day, got {horizon_days}")
    dates = observation_dates(start, end, 1 if labels else every_days)
    environment = settings()
    events = events or environment.events
    if not events:
        raise ValueError("no events to backtest: pass `events` or set ENGAGE_EVENTS")
    if config is None:
        config_path = environment.config or bundled_config_path()
        config = load_config(config_path)
        config_source = config_source or str(config_path)
    output = output or str(environment.output)
    refuse_overwriting(config_source, output)
    staging = new_staging_dir(output, end)
    try:
        files = find_event_files(events)
        validation = validate_events(extract_events(files), str(staging), end, config, output)
        logger.info(validated_message(validation))
        report = run_backtest(
            validation.valid_path,
            config,
            config_source or "the configuration",
            dates,
            horizon_days,
            output,
            customers,
            labels,
        )
    finally:
        discard(staging)  # nothing of a backtest's staging is published: drop it, free its lock
    logger.info(
        "out-of-time AUC: current %s, suggested %s, uniform %s",
        *(report.auc_test[name] for name in ("current", "suggested", "uniform")),
    )
    return report


if __name__ == "__main__":
    import sys

    from flows.cli import app

    sys.exit(app())
