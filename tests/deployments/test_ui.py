"""The Prefect UI in headless Chromium: a custom run of the daily deployment, its form filled
by the parameters' descriptions (a run date, the configuration as a file path), writes the
same outputs as a direct CLI run, and its run report opens from the run's artifact (served
over http by the stack, as `make server` serves it)."""

import json
import os
import re
import shutil
from datetime import date
from pathlib import Path
from uuid import UUID

from playwright.sync_api import Browser, Locator, Page
from prefect import get_client
from typer.testing import CliRunner

from deployments.local_stack import api_post
from flows.cli import app
from tests.deployments.conftest import Stack
from tests.deployments.flow_runs import DAILY, completed

RUN_DATE = date(2026, 3, 26)  # after the lock test's dates: the summary has a previous run
DATA_TABLES = ("scores", "contributions", "quarantine")
SCREENSHOT = Path(__file__).parents[2] / "docs" / "prefect-ui-run.png"


def form_field(page: Page, description: str) -> Locator:
    """The form's field whose description starts with `description` (the flow's docstring)."""
    return page.locator(".schema-form-property").filter(
        has=page.locator(".schema-form-property__description", has_text=description)
    )


def start_custom_run(
    page: Page, ui_url: str, deployment_id: str, run_date: date, config: Path
) -> UUID:
    """Deployment page -> Run -> Custom run -> the run date (date picker) and the configuration
    file's path, each field found by its description -> Submit."""
    page.goto(f"{ui_url}/deployments/deployment/{deployment_id}")
    page.get_by_role("button", name="Run", exact=True).click()  # not the sidebar's "Runs"
    page.get_by_text("Custom run").click()
    page.wait_for_url(re.compile(r"/run(\?|$)"))
    field = form_field(page, "The UTC day to score")
    field.get_by_role("button", name="date", exact=True).click()  # `date | None`: pick date
    field.locator(".p-date-button__control").click()
    page.locator("input[type=date]").fill(run_date.isoformat())
    page.get_by_role("button", name="Apply").click()
    field = form_field(page, "The scoring configuration: the path of its YAML file")
    field.get_by_role("button", name="str", exact=True).click()  # not the typed ScoringConfig
    field.locator("textarea").fill(str(config))
    with page.expect_response(
        lambda r: r.url.endswith("/create_flow_run") and r.request.method == "POST"
    ) as created:
        page.get_by_role("button", name="Submit").click()
    assert created.value.status == 201, created.value.text()
    flow_run = created.value.json()
    assert flow_run["parameters"]["run_date"] == run_date.isoformat()
    assert flow_run["parameters"]["config"] == str(config)
    return UUID(flow_run["id"])


def open_run_report(page: Page) -> str:
    """From the run's summary artifact, follow the run report's link (a new tab); its text."""
    page.get_by_text("engage-run-summary").first.click()
    page.get_by_text("Tiers vs the previous run").first.wait_for()
    link = page.get_by_role("link", name="report.html")
    assert (link.get_attribute("href") or "").startswith("http://")  # never file://
    with page.context.expect_page() as opened:
        link.click()
    report = opened.value
    report.wait_for_load_state()
    text = report.inner_text("body")
    report.close()
    return text


def test_custom_run_from_the_ui_matches_a_cli_run(
    stack: Stack, chromium: Browser, tmp_path: Path
) -> None:
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DAILY)

    page = chromium.new_page(viewport={"width": 1280, "height": 860})
    run_id = start_custom_run(page, stack.ui_url, str(deployment.id), RUN_DATE, stack.config)
    run = completed(run_id)
    assert run.name == f"score-{RUN_DATE}"
    page.goto(f"{stack.ui_url}/runs/flow-run/{run_id}")
    page.get_by_text(f"score-{RUN_DATE}").first.wait_for()
    page.get_by_text("Completed", exact=True).first.wait_for()
    page.get_by_text("Artifacts", exact=True).click()
    report_text = open_run_report(page)
    page.screenshot(path=tmp_path / "ui.png")
    if os.environ.get("ENGAGE_UPDATE_SCREENSHOT"):
        shutil.copyfile(tmp_path / "ui.png", SCREENSHOT)

    cli_output = tmp_path / "cli-output"
    result = CliRunner().invoke(
        app,
        ["run", "--events", str(stack.events), "--config", str(stack.config),
         "--run-date", RUN_DATE.isoformat(), "--output", str(cli_output)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    partition = f"run_date={RUN_DATE}"
    for table in DATA_TABLES:
        served = stack.output / table / partition / "part-0.parquet"
        assert (
            served.read_bytes() == (cli_output / table / partition / "part-0.parquet").read_bytes()
        )
    served_manifest = json.loads((stack.output / "runs" / partition / "manifest.json").read_text())
    cli_manifest = json.loads((cli_output / "runs" / partition / "manifest.json").read_text())
    assert served_manifest["flow_run_id"] == str(run_id)
    for key in ("counts", "config_hash", "tiers", "inputs", "run_date"):
        assert served_manifest[key] == cli_manifest[key], key
    assert served_manifest["counts"]["customers_scored"] == 8
    report = stack.output / "reports" / partition / "report.html"
    assert report.is_file()

    artifacts = api_post(
        stack.api_url,
        "/artifacts/filter",
        {"flow_runs": {"id": {"any_": [str(run_id)]}}, "sort": "KEY_ASC"},
    )
    assert [(a["key"], a["type"]) for a in artifacts] == [
        ("data-quality", "markdown"),
        ("engage-run-report", "markdown"),  # a link artifact: markdown to Prefect
        ("engage-run-summary", "markdown"),
        ("engage-tier-shift", "table"),
    ]
    summary = artifacts[2]["data"]
    assert summary.startswith(f"# engage run {RUN_DATE}")
    assert str(report.resolve()) in summary
    assert f"engage run report — {RUN_DATE}" in report_text
