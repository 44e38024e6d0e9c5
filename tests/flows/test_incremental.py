"""The daily flow with `incremental=True`: day after day, with a late event appended to an old
file and a re-delivered duplicate, it publishes the same scores and metric panel as a full
run."""

from datetime import date
from pathlib import Path

import pytest

from flows.daily import daily_scoring
from scoring.config import ScoringConfig

CONFIG = ScoringConfig(window_days=2, weights={"login": 1, "invite_sent": 10})
HEADER = "event_id,customer_id,event_type,occurred_at\n"
DAYS = {
    "2026-03-29": "e1,alice,login,2026-03-29T10:00:00Z\ne2,bob,invite_sent,2026-03-29T11:00:00Z\n",
    "2026-03-30": "e3,alice,invite_sent,2026-03-30T09:00:00Z\ne4,,login,2026-03-30T09:00:00Z\n",
    "2026-03-31": "e5,carol,login,2026-03-31T23:00:00Z\ne5,carol,login,2026-03-31T23:00:00Z\n",
}


def published(output: Path, table: str, day: str) -> bytes:
    return (output / table / f"run_date={day}" / "part-0.parquet").read_bytes()


pytestmark = pytest.mark.usefixtures("prefect_api")


def test_incremental_daily_runs_publish_what_full_runs_publish(tmp_path: Path) -> None:
    raw = tmp_path / "events"
    for day, (name, rows) in enumerate(DAYS.items()):
        (raw / f"event_date={name}").mkdir(parents=True)
        (raw / f"event_date={name}" / "part-0.csv").write_text(HEADER + rows)
        if day == 2:  # a late login of bob for the 30th, appended to that day's file
            with open(raw / "event_date=2026-03-30" / "part-0.csv", "a") as late:
                late.write("e6,bob,login,2026-03-30T23:59:59Z\n")
        run_date = date.fromisoformat(name)
        events = str(raw / "*" / "*.csv")
        summaries = {
            mode: daily_scoring(
                events=events,
                config=CONFIG,
                run_date=run_date,
                output=str(tmp_path / mode),
                incremental=mode == "incremental",
            )
            for mode in ("full", "incremental")
        }
        for table in ("scores", "contributions", "customer_metrics", "segment_metrics"):
            assert published(tmp_path / "full", table, name) == published(
                tmp_path / "incremental", table, name
            )
        full, incremental = summaries["full"].scoring, summaries["incremental"].scoring
        assert (incremental.customers, incremental.events_in_window, incremental.tiers) == (
            full.customers,
            full.events_in_window,
            full.tiers,
        )
    # the last incremental run read the new day and the file with the late event, not the 29th
    assert summaries["incremental"].input_files == [
        str(raw / "event_date=2026-03-30" / "part-0.csv"),
        str(raw / "event_date=2026-03-31" / "part-0.csv"),
    ]
    assert summaries["incremental"].validation.duplicates_removed == 1
    assert summaries["full"].scoring.tiers["very_disengaged"] == 3  # alice 10, bob 1, carol 1


def test_cli_incremental_keeps_the_aggregate_store(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    events = tmp_path / "events.csv"
    events.write_text(HEADER + DAYS["2026-03-29"])
    config = tmp_path / "config.yaml"
    config.write_text("window_days: 2\nweights: {login: 1, invite_sent: 10}\n")
    arguments = ["run", "--events", str(events), "--config", str(config)]
    arguments += ["--run-date", "2026-03-29", "--output", str(tmp_path / "out"), "--incremental"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    state = tmp_path / "out" / "_state" / "daily_aggregates" / "state.json"
    assert str(events) in state.read_text()
