"""The data-quality gate in the daily flow: Data Docs, manifest, artifact, error budget."""

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from playwright.sync_api import Browser
from typer.testing import CliRunner

import tasks.quality.validate as validate_module
from flows.cli import app
from flows.daily import RunSummary, daily_scoring
from scoring.config import ScoringConfig, ValidationRules
from scoring.schema import OUTPUT_TABLES
from tasks.quality.validate import QualityGateError

RUN_DATE = date(2026, 3, 31)
CONFIG = ScoringConfig(weights={"login": 1, "invite_sent": 10})
# the budget enforced from the first quarantined row (the default waits for 100 of them)
STRICT = ScoringConfig(
    weights={"login": 1, "invite_sent": 10},
    validation=ValidationRules(error_budget_min_rows=0),
)
GOOD_CSV = """event_id,customer_id,event_type,occurred_at
g1,alice,login,2026-03-30T10:00:00Z
g2,alice,invite_sent,2026-03-29T10:00:00Z
g3,bob,login,2026-03-30T10:00:00Z
g4,bob,teleported,2026-03-30T11:00:00Z
"""
# 2 bad rows of 4 (50 %): far over the default 1 % error budget
BAD_CSV = """event_id,customer_id,event_type,occurred_at
b1,alice,login,2026-03-30T10:00:00Z
b2,,login,2026-03-30T10:00:00Z
b3,carol,login,not a time
b4,bob,login,2026-03-30T10:00:00Z
"""


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "failed" not in p.parts
    }


@pytest.fixture(scope="module")
def good_run(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> RunSummary:
    root = tmp_path_factory.mktemp("good")
    (root / "events.csv").write_text(GOOD_CSV)
    real = validate_module.create_markdown_artifact

    def recorded(**kwargs: Any) -> Any:  # what the run sends to the server, kept for the test
        DATA_QUALITY_ARTIFACTS.append(kwargs)
        return real(**kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(validate_module, "create_markdown_artifact", recorded)
        return daily_scoring(
            events=str(root / "events.csv"),
            config=CONFIG,
            run_date=RUN_DATE,
            output=str(root / "out"),
        )


DATA_QUALITY_ARTIFACTS: list[dict[str, Any]] = []


def test_data_docs_are_published_next_to_the_outputs_and_in_the_manifest(
    good_run: RunSummary,
) -> None:
    output = Path(good_run.output)
    index = output / "data_docs" / "run_date=2026-03-31" / "index.html"
    assert good_run.data_docs == str(index)
    assert index.is_file()
    manifest = json.loads((output / "runs" / "run_date=2026-03-31" / "manifest.json").read_text())
    assert manifest["data_docs"] == "data_docs/run_date=2026-03-31/index.html"  # output-relative
    suites = {e["suite"] for e in manifest["expectations"]}
    assert suites == {"raw_events", "raw_events_table", "raw_event_types", *OUTPUT_TABLES}
    failed = [(e["suite"], e["expectation"]) for e in manifest["expectations"] if not e["success"]]
    assert failed == [("raw_event_types", "expect_column_values_to_be_in_set(event_type)")]
    assert manifest["unknown_event_types"] == {"teleported": 1}
    assert not (output / "_staging").exists()
    assert pl.read_parquet(output / "scores").height == 2  # docs stay out of the table dirs


def test_the_markdown_artifact_lists_every_expectation(good_run: RunSummary) -> None:
    # (that the served run's artifacts reach the server: tests/deployments/test_ui.py)
    [artifact] = DATA_QUALITY_ARTIFACTS
    assert artifact["key"] == "data-quality"
    markdown = artifact["markdown"]
    assert good_run.data_docs in markdown
    assert "- rows read: 4" in markdown
    assert (
        "| raw_events | `expect_column_values_to_not_be_null(customer_id__length)` "
        "| critical | pass | 0 |" in markdown
    )
    assert (
        "| raw_event_types | `expect_column_values_to_be_in_set(event_type)` | warning | warn"
        in (markdown)
    )
    assert "| scores | `expect_column_values_to_be_in_set(tier)` | critical | pass |" in markdown


def test_data_docs_render_in_headless_chromium_with_the_suite_names(
    good_run: RunSummary, chromium: Browser
) -> None:
    page = chromium.new_page()
    page.goto(Path(str(good_run.data_docs)).as_uri())
    text = page.inner_text("body")
    for suite in ("raw_events", "raw_event_types", "scores", "contributions"):
        assert suite in text
    # 3 id columns x 3 rules + 4 occurred_at rules = 13
    assert "Suite raw_events (13 of 13 passed)" in text
    # budget, not all quarantined, unique ids
    assert "Suite raw_events_table (3 of 3 passed)" in text
    # GX renders the page of a suite with a finding: the unknown event type's warning
    page.get_by_role("link", name="validation result").first.click()
    page.wait_for_load_state()
    details = page.inner_text("body")
    assert "Expectation Suite: raw_event_types" in details
    assert "teleported" in details  # the unexpected value, in GX's table


def test_over_budget_fails_before_publishing_and_leaves_earlier_outputs(
    good_run: RunSummary, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    shutil.copytree(good_run.output, output)  # an earlier run of the same date
    (tmp_path / "bad.csv").write_text(BAD_CSV)
    before = _files(output)

    with pytest.raises(QualityGateError) as failure:
        daily_scoring(
            events=str(tmp_path / "bad.csv"), config=STRICT, run_date=RUN_DATE, output=str(output)
        )
    message = str(failure.value)
    assert "2 of 4 rows (50%) quarantined, above the 1% error budget" in message
    assert "  customer_id is missing: 1 row(s)" in message
    assert f"{tmp_path / 'bad.csv'} row 2: customer_id is missing" in message
    assert f"{tmp_path / 'bad.csv'} row 3: occurred_at is not a valid ISO 8601 timestamp" in message
    assert _files(output) == before  # the earlier run's outputs, byte for byte
    assert not (output / "_staging").exists()
    assert (output / "data_docs" / "failed" / "run_date=2026-03-31" / "index.html").is_file()


def test_cli_over_budget_exits_non_zero_with_the_named_message(
    prefect_api: str, tmp_path: Path
) -> None:
    (tmp_path / "bad.csv").write_text(BAD_CSV)
    (tmp_path / "config.yaml").write_text(
        "weights: {login: 1}\nvalidation: {error_budget_min_rows: 0}\n"
    )
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--events",
            str(tmp_path / "bad.csv"),
            "--config",
            str(tmp_path / "config.yaml"),
            "--run-date",
            "2026-03-31",
            "--output",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 3
    assert "data-quality gate" in result.output
    assert "above the 1% error budget" in result.output
    assert "row 2: customer_id is missing" in result.output
    assert not (tmp_path / "out" / "scores").exists()
