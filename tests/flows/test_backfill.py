"""The backfill flow: dates in order, skipping complete ones, resumable after an interruption."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from deployments.local_stack import api_post
from flows.backfill import (
    PROGRESS_KEY,
    BackfillSummary,
    backfill_markdown,
    backfill_scoring,
    run_dates_between,
)
from flows.preflight import PreflightError
from scoring.config import ScoringConfig
from tests.daily_events import CONFIG, CONFIG_YAML, write_daily_events

START = date(2026, 4, 10)
DAYS = 7  # interrupted after 3 dates with 2 in flight: at most 5 done, some left to resume
END = START + timedelta(days=DAYS - 1)
RUN_SPECIFIC = ("flow_run_id", "timings_s")
"""Manifest fields that differ between two runs of the same inputs by design."""


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("backfill-events")
    return write_daily_events(directory / "events.csv", date(2026, 4, 1), 25)


def published_files(output: Path) -> dict[str, bytes]:
    """Every published data file and manifest (run-specific fields removed), by path.

    Reports are left out: with several dates in flight, a report's "previous run" depends on
    which neighbour was published first; so are the Data Docs (GX stamps its validation times
    in them)."""
    files = {}
    for path in sorted(output.rglob("*")):
        relative = path.relative_to(output)
        if path.is_dir() or relative.parts[0] in ("_staging", "reports", "data_docs"):
            continue
        content = path.read_bytes()
        if path.name == "manifest.json":
            manifest = json.loads(content)
            for field in RUN_SPECIFIC:
                manifest.pop(field)
            content = json.dumps(manifest, sort_keys=True).encode()
        files[str(relative)] = content
    return files


def manifests(output: Path) -> list[str]:
    return sorted(p.parent.name for p in (output / "runs").glob("run_date=*/manifest.json"))


def test_run_dates_between_includes_both_ends_and_rejects_reversed_ranges() -> None:
    assert run_dates_between(date(2024, 2, 28), date(2024, 3, 1)) == [
        date(2024, 2, 28),
        date(2024, 2, 29),
        date(2024, 3, 1),
    ]
    with pytest.raises(ValueError, match="end 2026-03-01 is before start 2026-03-02"):
        run_dates_between(date(2026, 3, 2), date(2026, 3, 1))


def test_a_backfill_of_more_than_ten_years_is_refused_naming_its_first_piece() -> None:
    """The flow's own check, for runs started from a deployment (the CLI's is pre-flight)."""
    start = date(2000, 1, 1)
    assert len(run_dates_between(start, start + timedelta(days=3659))) == 3660
    with pytest.raises(
        PreflightError,
        match=r"^start 2000-01-01 to end 2010-01-08 is 3,661 run dates; a backfill scores at "
        r"most 3,660: split it .* the first start 2000-01-01 end 2010-01-07$",
    ):
        run_dates_between(start, start + timedelta(days=3660))


def test_a_failed_date_is_one_row_of_the_report_whatever_its_error_quotes() -> None:
    """A file name holding a newline split the date's row of the markdown table in two."""
    summary = BackfillSummary(START, START)
    summary.record(START, ValueError("in\n| 2026-04-11 | scored |.csv: cannot be read"))
    assert backfill_markdown(summary).splitlines()[-1] == (
        f"| {START} | failed: ValueError: in\\n/ 2026-04-11 / scored /.csv: cannot be read |"
    )


def test_complete_dates_are_skipped_unless_forced_or_configured_differently(
    prefect_api: str, events: Path, tmp_path: Path
) -> None:
    output = str(tmp_path / "out")
    first, last = date(2026, 4, 20), date(2026, 4, 22)
    done = backfill_scoring(first, first, events=str(events), config=CONFIG, output=output)
    assert done.scored == [first]

    summary = backfill_scoring(first, last, events=str(events), config=CONFIG, output=output)
    assert (summary.skipped, summary.scored) == ([first], [first + timedelta(1), last])
    stamp = (tmp_path / "out" / "scores" / f"run_date={first}" / "part-0.parquet").stat()

    again = backfill_scoring(first, last, events=str(events), config=CONFIG, output=output)
    assert (again.skipped, again.scored) == ([first, first + timedelta(1), last], [])
    after = (tmp_path / "out" / "scores" / f"run_date={first}" / "part-0.parquet").stat()
    assert after.st_mtime_ns == stamp.st_mtime_ns  # not rewritten

    forced = backfill_scoring(
        last, last, force=True, events=str(events), config=CONFIG, output=output
    )
    assert (forced.skipped, forced.scored) == ([], [last])
    other_config = ScoringConfig(window_days=3, weights=CONFIG.weights)
    changed = backfill_scoring(first, first, events=str(events), config=other_config, output=output)
    assert changed.scored == [first]  # complete, but for another configuration

    progress = api_post(
        prefect_api,
        "/artifacts/latest/filter",
        {"artifacts": {"key": {"any_": [PROGRESS_KEY]}}, "limit": 1},
    )
    assert progress[0]["data"] == 100.0
    assert "| 2026-04-20 | scored |" in backfill_markdown(changed)


def test_an_interrupted_backfill_restarted_equals_an_uninterrupted_one(
    prefect_api: str, events: Path, tmp_path: Path
) -> None:
    uninterrupted = tmp_path / "uninterrupted"
    summary = backfill_scoring(
        START, END, max_concurrent=2, events=str(events), config=CONFIG, output=str(uninterrupted)
    )
    assert len(summary.scored) == DAYS

    # the same backfill from the command line, stopped (SIGTERM) once a few dates are done
    resumed = tmp_path / "resumed"
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_YAML)
    command = [
        str(Path(sys.executable).parent / "engage"), "backfill", "--start", str(START),
        "--end", str(END), "--events", str(events), "--config", str(config),
        "--output", str(resumed), "--max-concurrent", "2",
    ]  # fmt: skip
    environment = os.environ | {"PREFECT_API_URL": prefect_api}
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 300
    while (resumed / "runs").is_dir() is False or len(manifests(resumed)) < 3:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, "the command-line backfill made no progress"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    interrupted_at = manifests(resumed)
    assert 3 <= len(interrupted_at) < DAYS, interrupted_at

    restart = backfill_scoring(
        START, END, max_concurrent=2, events=str(events), config=CONFIG, output=str(resumed)
    )
    assert [f"run_date={d}" for d in restart.skipped] == interrupted_at
    assert len(restart.skipped) + len(restart.scored) == DAYS

    expected = published_files(uninterrupted)
    every_date = [f"run_date={d}" for d in run_dates_between(START, END)]
    assert manifests(uninterrupted) == every_date
    for run_date in every_date:  # every output the manifest lists was published
        manifest = json.loads(expected[f"runs/{run_date}/manifest.json"])
        assert {o["path"] for o in manifest["outputs"].values()} <= set(expected)
    resumed_files = published_files(resumed)
    for path in sorted(p for p in expected if p.endswith("manifest.json")):
        want, got = json.loads(expected[path]), json.loads(resumed_files.get(path, b"{}"))
        assert got == want, (
            path,
            {k for k in want.keys() | got.keys() if want.get(k) != got.get(k)},
        )
    assert resumed_files == expected


def test_a_date_failing_on_bad_input_is_one_log_line_not_a_traceback(
    prefect_api: str, events: Path, tmp_path: Path
) -> None:
    """The date's run and task errors printed their tracebacks to the console (no input may
    print one without --debug)."""
    (tmp_path / "config.yaml").write_text(CONFIG_YAML)
    (tmp_path / "customers.csv").write_text("customer_id\nc1\nc1\n")
    command = [
        str(Path(sys.executable).parent / "engage"), "backfill", "--start", str(START),
        "--end", str(START), "--events", str(events), "--config", str(tmp_path / "config.yaml"),
        "--output", str(tmp_path / "out"), "--customers", str(tmp_path / "customers.csv"),
    ]  # fmt: skip
    environment = os.environ | {"PREFECT_API_URL": prefect_api}
    completed = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    reason = f"{tmp_path / 'customers.csv'}: customer_id must be unique in the customers table"
    assert f"run date {START} failed: {reason}" in completed.stderr
    assert completed.stderr.endswith(  # the last line says why too
        f"error: run date(s) {START} failed (the first, {START}: CustomersInputError: {reason}"
        "; repeated: c1); fix that and rerun the backfill to resume\n"
    )
