"""The nastiest inputs through `engage run`: exit 0 (bad rows quarantined), 2 (a file refused,
one line) or 3 (the quality gate), never 1 and never a traceback (issue 26)."""

import gzip
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner, Result

from flows.cli import app

RUN_DATE = date(2026, 3, 31)
runner = CliRunner()
NASTY_CSV = """event_id,customer_id,event_type,occurred_at,amount
n1,alice,login,2026-03-30T10:00:00Z,
n2,alice,login,0000-01-01T00:00:00Z,
n3,bob,purchase,2026-03-30T10:00:00Z,1e308
n4,bob,purchase,2026-03-30T10:00:00Z,1e30
n5,carol,"login\r",2026-03-30T10:00:00Z,
n6,carol,[/bold],2026-03-30T10:00:00Z,
n7,dave,<script>alert(1)</script>,2026-03-30T10:00:00Z,
"""
NASTY_NDJSON = (
    '{"event_id": 9007199254740993, "customer_id": 1.50, "event_type": "login", '
    '"occurred_at": "2026-03-30T10:00:00Z"}\n'
    '{"event_id": 9007199254740992, "customer_id": 1.5, "event_type": "login", '
    '"occurred_at": "2026-03-30T10:00:00Z"}\n'
)


def _run(tmp_path: Path, events: Path, **validation: object) -> Result:
    config = tmp_path / "config.yaml"
    settings = {"weights": {"login": 1, "purchase": 5}, "validation": validation}
    config.write_text(yaml.safe_dump(settings))
    arguments = ["run", "--events", str(events), "--config", str(config)]
    arguments += ["--run-date", RUN_DATE.isoformat(), "--output", str(tmp_path / "out")]
    result = runner.invoke(app, arguments)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


pytestmark = pytest.mark.usefixtures("prefect_api")


def test_nasty_rows_are_quarantined_and_the_run_succeeds(tmp_path: Path) -> None:
    events = tmp_path / "events"
    events.mkdir()
    (events / "a.csv").write_text(NASTY_CSV)
    (events / "b.ndjson").write_text(NASTY_NDJSON)
    result = _run(tmp_path, events)
    assert result.exit_code == 0, result.output
    partition = tmp_path / "out" / "quarantine" / f"run_date={RUN_DATE}"
    quarantine = pl.read_parquet(partition).sort("source_row")
    assert quarantine.select("event_id", "reason").rows() == [
        ("n2", "occurred_at is out of range (years 1 to 9999)"),
        ("n3", "amount is beyond the representable range (±1e+15)"),
        ("n4", "amount is beyond the representable range (±1e+15)"),
        ("n5", "event_type contains control characters"),
    ]
    scores = pl.read_parquet(tmp_path / "out" / "scores" / f"run_date={RUN_DATE}")
    assert sorted(scores["customer_id"]) == ["1.5", "1.50", "alice", "carol", "dave"]
    assert "'[/bold]' (1)" in result.output  # shown as data, escaped, not as rich markup


def test_a_compression_bomb_exits_2_naming_the_file_and_the_setting(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.csv.gz"
    row = b"b1,c1,login,2026-03-30T10:00:00Z\n"
    bomb.write_bytes(gzip.compress(b"event_id,customer_id,event_type,occurred_at\n" + row * 30_000))
    result = _run(tmp_path, bomb, max_uncompressed_bytes=100_000)
    assert result.exit_code == 2, result.output
    assert "bomb.csv.gz: expands to more than 100,000 bytes" in result.output
    assert "validation.max_uncompressed_bytes" in result.output


@pytest.mark.parametrize("kind", ["control characters", "out-of-range years"])
def test_a_feed_of_bad_rows_is_stopped_by_the_gate_with_exit_3(tmp_path: Path, kind: str) -> None:
    events = tmp_path / "events.csv"
    bad = "log\tin,2026-03-30" if kind == "control characters" else "login,0000-01-01"
    rows = "".join(f"e{i},c{i},{bad}\n" for i in range(120))
    events.write_text("event_id,customer_id,event_type,occurred_at\n" + rows)
    result = _run(tmp_path, events)
    assert result.exit_code == 3, result.output
    assert "data-quality gate" in result.output


def test_an_output_named_like_a_glob_and_extreme_settings_publish_every_table(
    tmp_path: Path,
) -> None:
    """`[1]` in --output: every table the run reads back was read as a glob matching nothing
    (exit 1). Scores all 1e15 and a tier bound of ±1e308: the report's histogram could not be
    drawn (exit 1)."""
    events = tmp_path / "events.csv"
    events.write_text(NASTY_CSV.splitlines()[0] + "\n" + NASTY_CSV.splitlines()[1] + "\n")
    config = tmp_path / "config.yaml"
    tiers = {"churn_risk_below": -1e308, "very_disengaged_max": 0}
    tiers |= {"somewhat_engaged_max": 1, "highly_engaged_max": 1e308}
    config.write_text(yaml.safe_dump({"weights": {"login": 1e15}, "tiers": tiers}))
    output = tmp_path / "out[1]"
    arguments = ["run", "--events", str(events), "--config", str(config), "--output", str(output)]
    result = runner.invoke(app, [*arguments, "--run-date", RUN_DATE.isoformat()])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    scores = pl.read_parquet(
        output / "scores" / f"run_date={RUN_DATE}" / "part-0.parquet", glob=False
    )
    assert scores.select("customer_id", "score").rows() == [("alice", 1e15)]
    assert (output / "reports" / f"run_date={RUN_DATE}" / "report.html").is_file()


def test_what_a_command_prints_keeps_a_path_on_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An output path holding a newline split the run summary's lines (and an escape sequence
    in one reached the terminal): each line of text is printed as one line."""
    from flows import terminal
    from flows.cli_output import show

    terminal.use_this_terminal()  # consoles writing to the captured stdout
    show("outputs:")
    show("  /tmp/o\nut/scores\x1b[2J")
    assert capsys.readouterr().out == "outputs:\n  /tmp/o\\nut/scores\\x1b[2J\n"
