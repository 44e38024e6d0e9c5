"""The daily flow end to end on small files: outputs, counts, readers, reruns."""

import json
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pytest

from flows.daily import RunSummary, daily_scoring
from scoring.config import ScoringConfig, ValidationRules
from scoring.schema import CONTRIBUTIONS, SCORES, polars_schema

pytestmark = pytest.mark.usefixtures("prefect_api")

RUN_DATE = date(2026, 3, 31)
# 2 bad rows of 10 on purpose: a budget of 50 % lets the run through
CONFIG = ScoringConfig(
    weights={"login": 1, "invite_sent": 10, "app_uninstalled": -20},
    validation=ValidationRules(error_budget=0.5),
)

EVENTS_CSV = """event_id,customer_id,event_type,occurred_at,campaign
e1,alice,login,2026-03-31T23:59:59Z,spring
e2,alice,invite_sent,2026-03-02T00:00:00Z,
e3,alice,invite_sent,2026-03-01T23:59:59Z,
e4,bob,app_uninstalled,2026-03-15T12:00:00+02:00,
e4,bob,app_uninstalled,2026-03-15T12:00:00+02:00,
e5,bob,page_view,2026-03-16T00:00:00,
e6,carol,login,2026-01-05T08:00:00Z,
e7,dave,login,2026-04-01T00:00:00Z,
e8,,login,2026-03-20T00:00:00Z,
e9,erin,login,yesterday,
"""


@dataclass(frozen=True)
class DailyRun:
    events_file: Path
    output: Path
    summary: RunSummary


@pytest.fixture(scope="module")
def daily_run(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> DailyRun:
    """One run of the events above, shared by the tests that only read what it published."""
    directory = tmp_path_factory.mktemp("daily")
    events_file = directory / "events.csv"
    events_file.write_text(EVENTS_CSV)
    output = directory / "out"
    summary = daily_scoring(
        events=str(events_file), config=CONFIG, run_date=RUN_DATE, output=str(output)
    )
    return DailyRun(events_file, output, summary)


def test_daily_flow_scores_counts_and_quarantines(daily_run: DailyRun) -> None:
    events_file, output, summary = daily_run.events_file, daily_run.output, daily_run.summary
    assert summary.validation.rows_read == 10
    assert summary.validation.rows_quarantined == 2
    assert summary.validation.duplicates_removed == 1
    assert summary.validation.rows_valid == 7

    scores = pl.read_parquet(output / "scores" / "run_date=2026-03-31" / "part-0.parquet")
    assert scores.schema == polars_schema(SCORES)
    assert scores.select("customer_id", "score", "tier", "event_count").rows() == [
        ("alice", 11.0, "very_disengaged", 2),  # e3 is one second before the window
        ("bob", -20.0, "churn_risk", 2),  # duplicate e4 counted once; page_view unweighted
        ("carol", 0.0, "very_disengaged", 0),  # seen before the window: scores 0
    ]
    assert summary.scoring.unweighted_event_types == {"page_view": 1}

    contributions = pl.read_parquet(output / "contributions" / "run_date=2026-03-31")
    assert contributions.schema == polars_schema(CONTRIBUTIONS)
    assert contributions.rows() == [
        ("alice", "invite_sent", 1, 10.0, 10.0),
        ("alice", "login", 1, 1.0, 1.0),
        ("bob", "app_uninstalled", 1, -20.0, -20.0),
    ]

    quarantine = pl.read_parquet(output / "quarantine" / "run_date=2026-03-31")
    assert quarantine.select("source_row", "event_id", "reason", "campaign").rows() == [
        (9, "e8", "customer_id is missing", None),
        (10, "e9", "occurred_at is not a valid ISO 8601 timestamp", None),
    ]
    assert quarantine["source_file"].to_list() == [str(events_file)] * 2

    manifest = json.loads((output / "runs" / "run_date=2026-03-31" / "manifest.json").read_text())
    assert manifest["counts"]["rows_read"] == 10
    assert manifest["config_hash"] == CONFIG.config_hash()
    assert manifest["inputs"][0]["path"] == str(events_file)
    assert manifest["package_version"]
    assert set(manifest["timings_s"]) == {
        "extract",
        "validate",
        "score",
        "metrics",
        "followups",
        "validate_outputs",
    }
    assert not (output / "_staging").exists()


def test_outputs_are_readable_by_pyarrow_pandas_and_duckdb(daily_run: DailyRun) -> None:
    output = daily_run.output
    for table, rows in (("scores", 3), ("contributions", 3), ("quarantine", 2)):
        arrow = ds.dataset(output / table, partitioning="hive").to_table()
        assert arrow.num_rows == rows
        assert "run_date" in arrow.column_names
        assert len(pd.read_parquet(output / table)) == rows
        glob = str(output / table / "*" / "*.parquet")
        query = (
            f"select count(*), min(run_date) from read_parquet('{glob}', hive_partitioning=true)"
        )
        assert duckdb.sql(query).fetchall() == [(rows, date(2026, 3, 31))]
        assert pl.read_parquet(output / table).height == rows

    frame = pd.read_parquet(output / "scores")
    assert str(frame["last_event_at"].dtype).startswith("datetime64")
    assert str(frame["last_event_at"].dt.tz) == "UTC"


def test_rerun_replaces_the_partition_and_keeps_other_dates(
    daily_run: DailyRun, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    shutil.copytree(daily_run.output, output)  # RUN_DATE published; then another date, a rerun
    events_file = daily_run.events_file
    for run_date in (date(2026, 3, 30), RUN_DATE):
        daily_scoring(events=str(events_file), config=CONFIG, run_date=run_date, output=str(output))

    scores = pl.read_parquet(output / "scores")
    assert scores.group_by("run_date").len().sort("run_date").rows() == [
        (date(2026, 3, 30), 3),
        (date(2026, 3, 31), 3),
    ]
    assert sorted(p.name for p in (output / "scores").iterdir()) == [
        "run_date=2026-03-30",
        "run_date=2026-03-31",
    ]


def test_missing_required_column_names_the_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("event_id,customer,event_type,occurred_at\n1,a,login,2026-03-31T00:00:00Z\n")
    from tasks.extract.files import EventInputError

    with pytest.raises(
        EventInputError, match=r"bad\.csv: missing required column\(s\) customer_id"
    ):
        daily_scoring(events=str(path), config=CONFIG, run_date=RUN_DATE, output=str(tmp_path))
    assert not (tmp_path / "scores").exists()
