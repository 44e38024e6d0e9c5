"""The daily flow end to end: no path traversal, point-in-time reruns, retries only where
they help."""

import errno
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import tasks.extract.files
from flows.daily import daily_scoring
from scoring.config import ScoringConfig
from scoring.schema import OUTPUT_TABLES
from tasks.extract.files import EventInputError

RUN_DATE = date(2026, 3, 31)
CONFIG = ScoringConfig(weights={"login": 1, "../../etc/passwd": 5})

pytestmark = pytest.mark.usefixtures("prefect_api")


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_hostile_ids_and_types_never_become_paths(tmp_path: Path) -> None:
    hostile = [
        "../../etc/passwd",
        "/etc/passwd",
        "..\\..\\windows",
        "run_date=2026-01-01/x",
        "%2e%2e",
    ]
    lines = ["event_id,customer_id,event_type,occurred_at"]
    lines += [f'e{i},"{c}","{c}",2026-03-31T10:00:00Z' for i, c in enumerate(hostile)]
    lines += ['x1,alice,"../../etc/passwd",2026-03-31T11:00:00Z']
    (tmp_path / "in").mkdir()
    events = tmp_path / "in" / "events.csv"
    events.write_text("\n".join(lines) + "\n")
    output = tmp_path / "deep" / "out"
    before = _files_under(tmp_path)

    daily_scoring(events=str(events), config=CONFIG, run_date=RUN_DATE, output=str(output))

    created = _files_under(tmp_path) - before
    assert created and all(p == output.parent or output in (p, *p.parents) for p in created)
    files = sorted(p.relative_to(output).as_posix() for p in created if p.is_file())
    # the Data Docs site is GX's own static pages, named after suites, never after data
    tables = [f for f in files if not f.startswith("data_docs/run_date=2026-03-31/")]
    assert tables == sorted(
        [f"{table}/run_date=2026-03-31/part-0.parquet" for table in OUTPUT_TABLES]
        + ["runs/run_date=2026-03-31/manifest.json", "reports/run_date=2026-03-31/report.html"]
    )
    scores = pl.read_parquet(output / "scores")
    assert sorted(scores["customer_id"]) == sorted([*hostile, "alice"])  # kept verbatim
    assert scores.filter(pl.col("customer_id") == "alice")["score"].to_list() == [5.0]


def test_a_rerun_of_an_old_date_ignores_what_happened_after_it(tmp_path: Path) -> None:
    header = "event_id,customer_id,event_type,occurred_at\n"
    known = "e1,alice,login,2026-03-30T10:00:00Z\ne2,bob,login,2026-03-31T23:59:59.999Z\n"
    later = (
        "e3,alice,login,2026-04-01T00:00:00Z\n"  # the next day: ignored
        "e4,carol,login,2026-04-02T08:00:00Z\n"  # a customer first seen later: no row
    )
    late = "e5,bob,login,2026-03-31T12:00:00Z\n"  # occurred on the run date, arrived later
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(header + known)
    second.write_text(header + known + later)
    out_first, out_second = tmp_path / "a", tmp_path / "b"
    daily_scoring(events=str(first), config=CONFIG, run_date=RUN_DATE, output=str(out_first))
    daily_scoring(events=str(second), config=CONFIG, run_date=RUN_DATE, output=str(out_second))
    for table in ("scores", "contributions"):
        part = Path(table) / "run_date=2026-03-31" / "part-0.parquet"
        assert (out_first / part).read_bytes() == (out_second / part).read_bytes(), table

    # late data: an event that occurred before the cut-off counts when the date is rerun
    second.write_text(header + known + later + late)
    daily_scoring(events=str(second), config=CONFIG, run_date=RUN_DATE, output=str(out_second))
    scores = pl.read_parquet(out_second / "scores").select("customer_id", "score").rows()
    assert scores == [("alice", 1.0), ("bob", 2.0)]


def test_transient_read_errors_are_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = tmp_path / "events.csv"
    events.write_text("event_id,customer_id,event_type,occurred_at\ne1,a,login,2026-03-31\n")
    real_read = tasks.extract.files._blocks
    calls: list[str] = []

    def flaky(file: tasks.extract.files.EventFile, limit: int) -> Iterator[bytes]:
        calls.append(file.path)
        if len(calls) == 1:  # an NFS hiccup, wrapped like any read error
            cause = OSError(errno.EIO, os.strerror(errno.EIO), file.path)
            raise EventInputError(f"{file.path}: cannot be read: {cause}") from cause
        return real_read(file, limit)

    monkeypatch.setattr(tasks.extract.files, "_blocks", flaky)
    summary = daily_scoring(
        events=str(events), config=CONFIG, run_date=RUN_DATE, output=str(tmp_path / "out")
    )
    assert len(calls) == 2
    assert summary.scoring.customers == 1


def test_bad_data_fails_at_once_without_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = tmp_path / "events.csv"
    events.write_text("event_id,customer,event_type,occurred_at\ne1,a,login,2026-03-31\n")
    real_read = tasks.extract.files._blocks
    calls: list[str] = []
    monkeypatch.setattr(
        tasks.extract.files,
        "_blocks",
        lambda file, limit: calls.append(file.path) or real_read(file, limit),
    )
    with pytest.raises(EventInputError, match="missing required column"):
        daily_scoring(events=str(events), config=CONFIG, run_date=RUN_DATE, output=str(tmp_path))
    assert len(calls) == 1
