"""Every mistake a user makes, through `engage`: its exit status (2 a bad argument, input or
configuration, 3 the data-quality gate, 4 an output that cannot be written, never 1), when it
is found (before Prefect is even imported, or in the flow) and the one line that says what
to fix (issue 25).

The mistakes known before Prefect starts run in one cheap subprocess (`run_preflight_cases`)
that asserts nothing itself: it reports each case's status, output, time and whether Prefect
or Great Expectations got imported. The others run the daily flow in-process.
"""

import contextlib
import errno
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

RUN_DATE = "2026-03-31"
HEADER = "event_id,customer_id,event_type,occurred_at"
GOOD = f"{HEADER}\ne1,a,login,2026-03-30T10:00:00Z\ne2,b,login,2026-03-31T09:00:00Z\n"
FUTURE = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()


@dataclass(frozen=True)
class Mistake:
    """A command line with one mistake, what it must exit with and the line it must print
    (a regex; `{d}` in arguments and files is the case's directory)."""

    name: str
    args: list[str]
    status: int
    line: str
    files: dict[str, str | bytes] = field(default_factory=dict)
    read_only_output: bool = False


def _run(*extra: str, events: str = "{d}/events.csv", config: str = "{d}/config.yaml") -> list[str]:
    return ["run", "--events", events, "--config", config, "--run-date", RUN_DATE, *extra]


INPUTS: dict[str, str | bytes] = {"events.csv": GOOD, "config.yaml": "weights: {login: 1}\n"}
BEFORE_PREFECT = [
    Mistake(
        "events not found",
        _run(events="{d}/nope.csv"),
        2,
        r"no event files match '.*/nope\.csv': check the path or glob",
    ),
    Mistake(
        "events path empty",  # `--events "$UNSET"` read the working directory's files
        _run(events=""),
        2,
        r"no event files: the events path is empty \(''\); give a file, directory or glob$",
    ),
    Mistake(
        "events of an unknown type",
        _run(events="{d}/events.xlsx"),
        2,
        r"events\.xlsx: unsupported file type '\.xlsx'; use one of",
        {"events.xlsx": b"PK"},
    ),
    Mistake(
        "events whose file name holds a newline",  # the error line was split in two
        _run(events="{d}/events\nerror: forged.xlsx"),
        2,
        r"events\\nerror: forged\.xlsx: unsupported file type '\.xlsx'; use one of",
        {"events\nerror: forged.xlsx": b"PK"},
    ),
    Mistake(
        "events named like rich markup",  # a MarkupError traceback, exit 1
        _run(events="{d}/x[/]y.csv"),
        2,
        r"no event files match '.*/x\[/\]y\.csv': check the path or glob",
    ),
    Mistake(
        "configuration not found",
        _run(config="{d}/missing.yaml"),
        2,
        r"missing\.yaml: cannot read the configuration",
    ),
    Mistake(
        "configuration with a misspelt key",
        _run(),
        2,
        r"config\.yaml: invalid configuration: weigths: Extra inputs are not permitted",
        {"config.yaml": "weigths: {login: 1}\n"},
    ),
    Mistake(
        "configuration not YAML",
        _run(),
        2,
        r"config\.yaml: not valid YAML",
        {"config.yaml": "weights: [login\n"},
    ),
    Mistake(
        "configuration with a number of 5,000 digits",  # a ValueError traceback, exit 1
        _run(),
        2,
        r"config\.yaml: not valid YAML: Exceeds the limit \(4300 digits\) for integer string "
        r"conversion: value has 5000 digits; check the file$",
        {"config.yaml": "weights: {login: " + "9" * 5000 + "}\n"},
    ),
    Mistake(
        "configuration with a day that does not exist",  # a ValueError traceback, exit 1
        _run(),
        2,
        r"config\.yaml: not valid YAML: day is out of range for month; check the file$",
        {"config.yaml": "weights: {login: 1}\nwindow_days: 2026-02-30\n"},
    ),
    Mistake(
        "run date not a date",
        ["run", "--events", "{d}/events.csv", "--config", "{d}/config.yaml", "--run-date", "31/03"],
        2,
        r"--run-date '31/03' is not a date in the form YYYY-MM-DD",
    ),
    Mistake(
        "run date out of range",  # its window and lookback overflowed the date type (exit 1)
        _run("--run-date", "0001-01-15"),  # the last --run-date counts
        2,
        r"--run-date 0001-01-15 is out of range: give a date from 1900-01-01 to 9799-12-31",
    ),
    Mistake(
        "run date in the future",
        ["run", "--events", "{d}/events.csv", "--config", "{d}/config.yaml", "--run-date", FUTURE],
        2,
        rf"run date {FUTURE} is in the future .* pass --allow-future to score it anyway",
    ),
    Mistake(
        "neither events nor source",
        ["run", "--config", "{d}/config.yaml", "--run-date", RUN_DATE],
        2,
        r"give exactly one of --events <path\|glob> or --source <name>",
    ),
    Mistake(
        "an unknown source",
        ["run", "--source", "lake", "--config", "{d}/config.yaml", "--run-date", RUN_DATE],
        2,
        r"config\.yaml: no source 'lake' under `sources` \(known: none configured\)",
    ),
    Mistake(
        "customers table not found",
        _run("--customers", "{d}/customers.csv"),
        2,
        r"customers\.csv: customers table not found; check --customers",
    ),
    Mistake(
        "customers table without the plan a follow-up rule reads",
        _run("--customers", "{d}/customers.csv"),
        2,
        r"customers\.csv: no column 'plan', needed by the follow-up rule\(s\) pql "
        r"\(found: customer_id, region\)",
        {
            "customers.csv": "customer_id,region\na,eu\n",
            "config.yaml": "weights: {login: 1}\nfollowups:\n  rules:\n    - name: pql\n"
            "      kind: upsell_ready\n      when: {condition: product_qualified_lead}\n"
            '      reason: "{plan}"\n',
        },
    ),
    Mistake(
        "events without customer_id",
        _run(),
        2,
        r"events\.csv: missing required column\(s\) customer_id \(found: event_id, customer, "
        r"event_type, occurred_at\); rename the header's columns to event_id, customer_id, ",
        {"events.csv": "event_id,customer,event_type,occurred_at\ne1,a,login,2026-03-30\n"},
    ),
    Mistake(
        "events with a column named like the job's own",
        _run(),
        2,
        r"events\.csv: column\(s\) source_file have a name the job gives its own columns",
        {"events.csv": f"{HEADER},source_file\ne1,a,login,2026-03-30,x.csv\n"},
    ),
    Mistake(
        "events with a NUL in a column's name",  # a Rust panic writing the quarantine
        _run(),
        2,
        r"events\.csv: column name\(s\) 'a\\x00b' hold a NUL character \(\\x00\), which no "
        r"output can store; rename or drop them$",
        {"events.csv": f"{HEADER},a\x00b\ne1,a,login,2026-03-30,x\n"},
    ),
    Mistake(
        "events separated by spaces",
        _run(),
        2,
        r"the header is a single column: separate the names with one of , ; tab or \|",
        {"events.csv": "event_id customer_id event_type occurred_at\n1 a login 2026-03-30\n"},
    ),
    Mistake(
        "events with carriage-return line ends",
        _run(),
        2,
        r"events\.csv: lines end in a carriage return alone \(classic Mac OS\)",
        {"events.csv": GOOD.replace("\n", "\r")},
    ),
    Mistake(
        "events not UTF-8",
        _run(),
        2,
        r"events\.csv: line 1 is not valid UTF-8 \(byte 0xff at offset 0\); re-encode",
        {"events.csv": "\ufeffevent_id,customer_id\n".encode("utf-16")},
    ),
    Mistake(
        "output under a file",
        _run("--output", "{d}/events.csv/out"),
        4,
        r"output .*/events\.csv/out is under the file .*events\.csv, not a directory; choose "
        r"another --output",
    ),
    Mistake(
        "output on a read-only file system",
        _run("--output", "{d}/out"),
        4,
        r"output .*/out cannot be written: Read-only file system; free space or choose another "
        r"--output \(nothing was published: earlier outputs are untouched\)",
        read_only_output=True,
    ),
    Mistake(
        "backfill ending before it starts",
        [
            "backfill",
            "--start",
            "2026-03-31",
            "--end",
            "2026-03-01",
            "--events",
            "{d}/events.csv",
            "--config",
            "{d}/config.yaml",
        ],
        2,
        r"--end 2026-03-01 is before --start 2026-03-31",
    ),
    Mistake(
        "backfill over decades",  # accepted: a flow run started, then a traceback (exit 1)
        [
            "backfill",
            "--start",
            "1900-01-01",
            "--end",
            "9000-01-01",
            "--events",
            "{d}/events.csv",
            "--config",
            "{d}/config.yaml",
        ],
        2,
        r"--start 1900-01-01 to --end 9000-01-01 is 2,593,223 run dates; a backfill scores at "
        r"most 3,660: split it into backfills of at most 3,660 days, the first --start "
        r"1900-01-01 --end 1910-01-08$",
    ),
    Mistake(
        "backfill into the future",
        [
            "backfill",
            "--start",
            "2026-03-31",
            "--end",
            FUTURE,
            "--events",
            "{d}/events.csv",
            "--config",
            "{d}/config.yaml",
        ],
        2,
        rf"run date {FUTURE} is in the future .*; end the backfill on a date that has begun",
    ),
    Mistake(
        # ten million were generated in memory until the machine ran out (a regression here
        # fails at once: run_preflight_cases refuses to generate demo data)
        "demo of more customers than it makes",
        ["demo", "--customers", "100001", "--output", "{d}/demo"],
        2,
        r"--customers 100,001 is more than the demo generates \(100,000: its events are "
        r"made in memory\); give at most 100,000$",
    ),
    Mistake(
        "backtest labels not found",
        [
            "backtest",
            "--events",
            "{d}/events.csv",
            "--config",
            "{d}/config.yaml",
            "--from",
            "2026-03-01",
            "--to",
            RUN_DATE,
            "--labels",
            "{d}/labels.csv",
            "--output",
            "{d}/bt",
        ],
        2,
        r"labels\.csv: labels file not found; check --labels",
    ),
]


def _write_inputs(directory: Path, files: dict[str, str | bytes]) -> None:
    directory.mkdir(parents=True)
    for name, content in (INPUTS | files).items():
        path = directory / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content.replace("{d}", str(directory)))


def run_preflight_cases(root: str) -> None:
    """In a fresh process: run each BEFORE_PREFECT case through the CLI, print what happened
    as JSON lines (status, output, seconds, what got imported)."""
    from typer.testing import CliRunner

    from flows.cli import app

    runner = CliRunner()
    # no case gets as far as the demo's data: one that did (a demo asked for 100,001 customers)
    # fails at once instead of generating some 6 GB of events
    generated = mock.patch(
        "demo.data.write_demo_dataset", side_effect=AssertionError("demo data generated")
    )
    generated.start()
    for index, case in enumerate(BEFORE_PREFECT):
        directory = Path(root) / str(index)
        _write_inputs(directory, case.files)
        args = [a.replace("{d}", str(directory)) for a in case.args]
        read_only = mock.patch(  # as root, only a read-only mount refuses: the probe is told so
            "tasks.publish.atomic.tempfile.TemporaryFile",
            side_effect=OSError(errno.EROFS, "Read-only file system"),
        )
        with read_only if case.read_only_output else contextlib.nullcontext():
            started = time.perf_counter()
            result = runner.invoke(app, args)
            seconds = time.perf_counter() - started
        report = {
            "name": case.name,
            "status": result.exit_code,
            "output": result.output,
            "seconds": seconds,
            "prefect": "prefect" in sys.modules,
            "great_expectations": "great_expectations" in sys.modules,
        }
        print(json.dumps(report), flush=True)


@pytest.fixture(scope="module")
def preflight_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("preflight")
    code = f"import tests.flows.test_mistakes as t; t.run_preflight_cases({str(root)!r})"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    reports = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    return {report["name"]: report for report in reports}


@pytest.mark.parametrize("case", BEFORE_PREFECT, ids=lambda case: case.name)
def test_a_mistake_known_before_prefect_ends_the_command_at_once(
    case: Mistake, preflight_reports: dict[str, dict[str, Any]]
) -> None:
    report = preflight_reports[case.name]
    assert report["status"] == case.status, report["output"]
    assert not report["prefect"] and not report["great_expectations"]  # found before either
    assert report["seconds"] < 2, report
    lines = report["output"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), report["output"]
    assert re.search(case.line, lines[0]), lines[0]


# ------------------------------------------------------------------ found once the flow runs


def _engage(directory: Path, *args: str, events: str = GOOD, config: str = "") -> Any:
    """`engage run` in-process on `events` (a CSV's text), output `directory/out`."""
    from typer.testing import CliRunner

    from flows.cli import app

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "events.csv").write_bytes(events.encode())
    (directory / "config.yaml").write_text(config or "weights: {login: 1}\n")
    arguments = _run("--output", "{d}/out", *args)
    return CliRunner().invoke(app, [a.replace("{d}", str(directory)) for a in arguments])


def _error_lines(output: str) -> list[str]:
    labels = ("error:", "data-quality gate:")
    return [line for line in output.splitlines() if line.startswith(labels)]


def _published_tables(output: Path, run_date: str) -> dict[str, Any]:
    """Each published Parquet partition of the run date: its rows, and whether it has every
    column of its contract, typed (the quarantine keeps the raw columns too)."""
    import polars as pl

    from scoring.schema import OUTPUT_TABLES, polars_schema

    tables = {}
    for table, columns in OUTPUT_TABLES.items():
        path = output / table / f"run_date={run_date}" / "part-0.parquet"
        if path.exists():
            frame = pl.read_parquet(path)
            contract = polars_schema(columns).items()
            tables[table] = (frame.height, all(frame.schema.get(c) == t for c, t in contract))
    return tables


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.parametrize(
    ("events", "run_date", "reason"),
    [
        ("", RUN_DATE, "the input has no event rows"),
        (f"{HEADER}\n", RUN_DATE, "the input has no event rows"),
        (GOOD, "2026-01-01", "none of the 2 valid events falls in the window ending on 2026-01-01"),
    ],
    ids=["empty file", "header only", "run date before every event"],
)
def test_nobody_to_score_publishes_every_table_empty_and_says_why(
    tmp_path: Path, events: str, run_date: str, reason: str
) -> None:
    result = _engage(tmp_path, events=events, config="weights: {login: 1}\n")
    if run_date != RUN_DATE:
        result = _engage(tmp_path, "--run-date", run_date, events=events)
    assert result.exit_code == 0, result.output
    assert f"no customer was scored: {reason}" in " ".join(result.output.split())
    tables = _published_tables(tmp_path / "out", run_date)
    assert {"scores", "contributions", "quarantine", "flags", "actions"} <= set(tables)
    assert all(contract for _, contract in tables.values())  # every table with its schema
    assert tables["scores"][0] == tables["contributions"][0] == 0
    report = tmp_path / "out" / "reports" / f"run_date={run_date}" / "report.html"
    assert f"No customer was scored: {reason}." in report.read_text()
    assert not (tmp_path / "out" / "_staging").exists()


@pytest.mark.usefixtures("prefect_api")
def test_every_row_quarantined_stops_at_the_gate_naming_the_value(tmp_path: Path) -> None:
    us_dates = f"{HEADER}\n" + "".join(f"e{i},c{i},login,03/2{i}/2026 10:00\n" for i in range(5))
    result = _engage(tmp_path, events=us_dates)  # 5 rows: under error_budget_min_rows
    assert result.exit_code == 3, result.output
    assert _error_lines(result.output) == [
        "data-quality gate: data-quality gate failed for 2026-03-31: all 5 rows read were "
        "quarantined: nothing to score"
    ]
    assert "(occurred_at='03/20/2026 10:00')" in result.output
    assert "write occurred_at in ISO 8601" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "scores").exists()


@pytest.mark.usefixtures("prefect_api")
def test_a_spreadsheet_csv_is_read_and_a_catalogue_warning_is_printed_once(
    tmp_path: Path,
) -> None:
    excel = "\ufeff" + GOOD.replace(",", ";").replace("\n", "\r\n")
    excel += "e3;c;teleport;2026-03-30T10:00:00Z\r\n"
    result = _engage(tmp_path, events=excel, config="weights: {login: 1}\n")
    assert result.exit_code == 0, result.output
    assert "customers scored    │ 3" in result.output
    assert result.output.count("'teleport' (1)") == 2  # unweighted, and not in the catalogue
    assert result.output.count("not in the catalogue") == 1
    assert "call list: 0 (0 new, 0 open); queue: 0 over capacity" in result.output
    assert "{" not in result.output  # no Python dicts


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.parametrize(
    ("number", "words"),
    [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")],
    ids=["disk full", "read-only"],
)
def test_an_output_that_cannot_be_written_exits_4_and_leaves_earlier_outputs(
    tmp_path: Path, number: int, words: str
) -> None:
    assert _engage(tmp_path, "--run-date", "2026-03-30").exit_code == 0
    output = tmp_path / "out"
    before = {p: p.read_bytes() for p in output.rglob("*") if p.is_file()}
    failing = OSError(number, words)  # what writing a Parquet file raises once the disk is full
    with mock.patch("tasks.publish.write.pq.write_table", side_effect=failing):
        result = _engage(tmp_path)
    assert result.exit_code == 4, result.output
    assert _error_lines(result.output) == [
        f"error: output {output} cannot be written: {words}; free space or choose another "
        "--output (nothing was published: earlier outputs are untouched)"
    ]
    assert "Traceback" not in result.output
    assert {p: p.read_bytes() for p in output.rglob("*") if p.is_file()} == before
    assert not (output / "_staging").exists()


@pytest.mark.usefixtures("prefect_api")
def test_a_torn_aggregate_state_is_one_error_naming_it_and_the_fix(tmp_path: Path) -> None:
    state = tmp_path / "out" / "_state" / "daily_aggregates" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"version": 1, "files": {"events.csv": {"first_day": "2026-0')
    result = _engage(tmp_path, "--incremental")
    assert result.exit_code == 2, result.output
    (line,) = _error_lines(result.output)
    assert line.startswith(f"error: {state}: unreadable aggregate state (")
    assert line.endswith(f"delete {state.parent} to rebuild the aggregates from the raw events")
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("prefect_api")
def test_the_flow_refuses_a_future_run_date_unless_allowed(tmp_path: Path) -> None:
    """The UI's form starts the flow itself: it checks the date as the command line does."""
    from flows.daily import daily_scoring
    from flows.preflight import FutureRunDateError

    future = date.fromisoformat(FUTURE)
    with pytest.raises(FutureRunDateError, match="set allow_future to score it anyway"):
        daily_scoring(events=str(tmp_path / "none.csv"), run_date=future, output=str(tmp_path))
    assert not any(tmp_path.iterdir())  # refused before anything was written


@pytest.mark.usefixtures("prefect_api")
def test_the_flow_refuses_a_run_date_out_of_range(tmp_path: Path) -> None:
    """The UI's form gives any date: the flow checks the range as the command line does."""
    from flows.daily import daily_scoring
    from flows.preflight import PreflightError

    with pytest.raises(PreflightError, match=r"run_date 0001-01-15 is out of range: give a"):
        daily_scoring(
            events=str(tmp_path / "none.csv"), run_date=date(1, 1, 15), output=str(tmp_path)
        )
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_a_mistake_found_in_the_flow_of_a_cold_command_is_one_line_on_stderr(
    tmp_path: Path,
) -> None:
    """Without `engage server`, the command's temporary Prefect server stops when it ends: the
    failed run's logs still queued for it are sent before, not reported as failures after."""
    _write_inputs(tmp_path / "in", {"customers.csv": "customer_id\na\na\n"})
    arguments = _run("--customers", "{d}/customers.csv", "--output", "{d}/out")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    environment["ENGAGE_SERVER_HOME"] = str(tmp_path / "no-server")
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "engage")]
        + [a.replace("{d}", str(tmp_path / "in")) for a in arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stderr.splitlines() == [
        f"error: {tmp_path / 'in' / 'customers.csv'}: customer_id must be unique in the "
        "customers table; repeated: a"
    ]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["run", "--run-date", "2026-03-31", "--events", "e.csv"],
            r"^error: engage run: Missing option '--config'\. \(see engage run --help\)$",
        ),
        (
            ["backtest", "--every", "0", "--events", "e", "--config", "c", "--from", "x"],
            r"^error: engage backtest: Invalid value for '--every': .*greater than or equal to 1",
        ),
        (["run", "--bogus", "1"], r"^error: engage run: No such option: --bogus"),
        (["bogus"], r"^error: engage: No such command 'bogus'\. \(see engage --help\)$"),
        (  # Click reads "" as the working directory: the outputs landed there
            ["run", "--config", "c.yaml", "--run-date", "2026-03-31", "--output", ""],
            r"^error: --output is empty \(an unset variable\?\); give a path$",
        ),
        (["backtest", "--config="], r"^error: --config is empty"),
    ],
)
def test_a_usage_error_is_one_line_too(
    args: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The console script (flows.cli.main): a missing, unknown or out-of-range option, or an
    empty path, is one line like every other error (exit 2), not Click's usage box."""
    from flows.cli import invoked

    assert invoked(args) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and re.search(line, errors[0]), errors
