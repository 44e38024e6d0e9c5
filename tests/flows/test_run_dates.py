"""Run-date semantics outside a deployment (the rule itself, DST and leap days included, is
tested in tests/scoring/test_time.py; inside a deployment in tests/deployments/)."""

from datetime import UTC, datetime, timedelta

from flows.run_dates import DEFAULT_TIMEZONE, deployment_timezone, scheduled_run_date


def test_without_a_deployment_the_time_zone_is_utc_and_the_run_date_is_yesterday() -> None:
    before = (datetime.now(UTC) - timedelta(days=1)).date()
    run_date = scheduled_run_date()
    after = (datetime.now(UTC) - timedelta(days=1)).date()
    assert deployment_timezone() == DEFAULT_TIMEZONE == "UTC"
    assert run_date in {before, after}  # midnight may pass between the two reads
