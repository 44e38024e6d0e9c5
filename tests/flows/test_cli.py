"""The engage CLI end to end, checked against the plain-Python oracle in tests/reference.py."""

import csv
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import typer
import yaml
from rich.table import Table
from typer.testing import CliRunner

from demo.data import write_demo_dataset
from flows import terminal
from flows.cli import app
from flows.settings import bundled_config_path
from tests.reference import Event, parse_iso, reference_scores

RUN_DATE = date(2026, 3, 31)
runner = CliRunner()


def _oracle_events(path: Path) -> list[Event]:
    events = []
    with path.open(newline="") as stream:
        for row in csv.DictReader(stream):
            try:
                occurred_at = parse_iso(row["occurred_at"])
            except ValueError:
                continue
            if all(row[c].strip() for c in ("event_id", "customer_id", "event_type")):
                events.append(
                    Event(row["event_id"], row["customer_id"], row["event_type"], occurred_at)
                )
    return events


@pytest.fixture(scope="module")
def demo_dataset(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return write_demo_dataset(tmp_path_factory.mktemp("demo"), end_date=RUN_DATE, customers=300)


def test_run_matches_the_independent_oracle_column_by_column(
    prefect_api: str, demo_dataset: dict, tmp_path: Path
) -> None:
    config_path = tmp_path / "config.yaml"
    weights = {"login": 1.5, "invite_sent": 10, "feature_used": 0.3, "app_uninstalled": -20}
    config_path.write_text(yaml.safe_dump({"window_days": 14, "weights": weights}))
    output = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "run",
            "--events",
            str(demo_dataset["events"]),
            "--config",
            str(config_path),
            "--run-date",
            "2026-03-25",
            "--output",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "customers per tier" in result.output

    expected_scores, expected_contributions = reference_scores(
        _oracle_events(Path(demo_dataset["events"])), weights, date(2026, 3, 25), window_days=14
    )
    scores = pl.read_parquet(output / "scores" / "run_date=2026-03-25" / "part-0.parquet")
    assert scores.height == len(expected_scores)
    for row in scores.iter_rows(named=True):
        expected = expected_scores[row["customer_id"]]
        assert row["score"] == pytest.approx(expected["score"], abs=1e-9)
        assert row["tier"] == expected["tier"]
        assert row["event_count"] == expected["event_count"]
        assert row["last_event_at"] == expected["last_event_at"]

    contributions = pl.read_parquet(output / "contributions")
    assert contributions.height == len(expected_contributions)
    for row in contributions.iter_rows(named=True):
        expected = expected_contributions[(row["customer_id"], row["event_type"])]
        assert row["count"] == expected["count"]
        assert row["weight"] == expected["weight"]
        assert row["contribution"] == pytest.approx(expected["contribution"], abs=1e-9)


def test_demo_command_scores_a_baseline_day_then_the_run_date(
    prefect_api: str, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["demo", "--output", str(tmp_path), "--customers", "150"])
    assert result.exit_code == 0, result.output
    scores = pl.read_parquet(tmp_path / "scores" / "run_date=2026-03-31")
    assert scores.height == 150
    assert set(scores["tier"]) >= {"churn_risk", "very_disengaged", "power_user"}
    assert pl.read_parquet(tmp_path / "quarantine").height > 0
    output = " ".join(result.output.split())
    assert str(tmp_path / "scores" / "run_date=2026-03-31") in output.replace(" ", "")
    first, second = output.split("scoring 2026-03-30")[1].split("scoring 2026-03-31")
    assert "call list: 0 (0 new, 0 open); queue:" in first and "baseline run" in first
    flags = pl.read_parquet(tmp_path / "flags" / "run_date=2026-03-31" / "part-0.parquet")
    new = flags.filter(pl.col("status") == "new")
    assert f"call list: {new.height} ({new.height} new, 0 open)" in second
    assert "call list, top 10 by priority" in second and "baseline run" not in second
    assert new["account_owner"].null_count() == 0 and new["value"].null_count() == 0
    assert re.search(r"│\s+1 │ new\s+│", result.output)  # priority 1 first
    drop = pl.read_csv(tmp_path / "crm_drop" / "run_date=2026-03-31" / "actions.csv")
    assert drop.height == new.height and drop["delivered"].all()
    assert {"priority", "account_owner", "customer_name", "value"} <= set(drop.columns)
    owner_files = list((tmp_path / "crm_drop" / "run_date=2026-03-31" / "by_owner").glob("*.csv"))
    assert sum(pl.read_csv(f).height for f in owner_files) == new.height
    assert "CRM drop: 0 action(s)" in first


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        ("window_days: 30\nweigths: {login: 1}\n", "weigths: Extra inputs are not permitted"),
        ("weights: {login: heavy}\n", "weights.login: Input should be a valid number"),
        ("window_days: 0\n", "window_days: Input should be greater than or equal to 1"),
        ("weights: [login\n", "not valid YAML"),
    ],
)
def test_bad_config_exits_2_naming_the_file_and_key(
    tmp_path: Path, config_text: str, message: str
) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(config_text)
    result = runner.invoke(
        app,
        ["run", "--events", "x.csv", "--config", str(config_path), "--run-date", "2026-03-31"],
    )
    assert result.exit_code == 2
    assert "config.yaml" in result.output
    assert message in result.output.replace("\n", " ")


def test_missing_events_exits_2_with_what_to_check(prefect_api: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "run",
            "--events",
            str(tmp_path / "nothing-*.csv"),
            "--config",
            str(bundled_config_path()),
            "--run-date",
            "2026-03-31",
            "--output",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 2
    assert "no event files match" in result.output


def test_a_customers_table_without_the_plan_a_rule_needs_exits_2(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("event_id,customer_id,event_type,occurred_at\n")
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,account_owner\nc1,Ada\n")
    arguments = ["--config", str(bundled_config_path()), "--run-date", "2026-03-31"]
    result = runner.invoke(
        app,
        ["run", "--events", str(tmp_path / "e.csv"), *arguments, "--customers", str(customers)],
    )
    assert result.exit_code == 2
    assert f"{customers}: no column 'plan', needed by the follow-up rule(s) " in " ".join(
        result.output.split()
    )


def test_bad_run_date_is_rejected() -> None:
    result = runner.invoke(
        app, ["run", "--events", "x", "--config", "c.yaml", "--run-date", "31/03/2026"]
    )
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_a_backtest_horizon_beyond_ten_years_is_a_usage_error() -> None:
    """A horizon of 1e11 days overflowed the dates of the observations (exit 1)."""
    arguments = ["backtest", "--events", "x", "--config", "c.yaml", "--from", "2026-03-01"]
    result = runner.invoke(app, [*arguments, "--to", "2026-03-31", "--horizon", "99999999999"])
    assert result.exit_code == 2
    assert "--horizon" in result.output and "3660" in result.output


def test_a_demo_of_no_customers_is_a_usage_error(tmp_path: Path) -> None:
    """--customers 0 ended the demo with a ValueError traceback (exit 1)."""
    result = runner.invoke(app, ["demo", "--output", str(tmp_path), "--customers", "0"])
    assert result.exit_code == 2
    assert "--customers" in result.output and "1" in result.output
    assert not any(tmp_path.iterdir())


def test_a_server_home_that_is_a_file_is_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It ended `engage server start` with a FileExistsError traceback (exit 1)."""
    (tmp_path / "home").write_text("")
    monkeypatch.setenv("ENGAGE_SERVER_HOME", str(tmp_path / "home"))
    result = runner.invoke(app, ["server", "start"])
    assert result.exit_code == 2
    assert f"error: ENGAGE_SERVER_HOME {tmp_path / 'home'} cannot hold the server's state" in (
        " ".join(result.output.split())
    )


def test_an_error_line_stays_one_line_whatever_the_name_it_quotes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A file name holding a newline split the error line in two (and could forge a second)."""
    with pytest.raises(typer.Exit) as ended:
        raise terminal.fail("in\nerror: forged.csv\x1b[2J\u2028: cannot be read")
    assert ended.value.exit_code == 2
    assert capsys.readouterr().err == (
        "error: in\\nerror: forged.csv\\x1b[2J\\u2028: cannot be read\n"
    )


def test_the_gate_report_keeps_its_own_lines_and_escapes_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit) as ended:
        raise terminal.fail("failed:\n  a\rb\x1b[2J row 1", 3, "gate", several_lines=True)
    assert ended.value.exit_code == 3
    assert capsys.readouterr().err == "gate: failed:\n  a\\rb\\x1b[2J row 1\n"


def test_the_consoles_print_data_as_written_never_as_markup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A `[/]` in a path or a customer's name ended the command with a MarkupError (exit 1)."""
    call_list = Table()
    call_list.add_column("customer")
    call_list.add_row("x[/]y")
    terminal.console.print("scoring from in[/b]put/events.csv ...")
    terminal.console.print(call_list)
    with pytest.raises(typer.Exit):
        raise terminal.fail("no event files match 'x[/]y.csv'")
    captured = capsys.readouterr()
    assert "in[/b]put/events.csv" in captured.out and "x[/]y" in captured.out
    assert captured.err == "error: no event files match 'x[/]y.csv'\n"


def test_every_command_has_help() -> None:
    for command in ([], ["run"], ["demo"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0
        assert "Usage" in result.output
