"""Every HTML page a run writes (run report, Data Docs index, GX's validation pages)
shows hostile event text as text: `<script>` and `<img onerror>` payloads in every text column
reach the quarantine, Data Docs and the run report, and none of them runs in Chromium."""

import csv
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from flows.daily import RunSummary, daily_scoring
from scoring.config import ScoringConfig

RUN_DATE = date(2026, 3, 31)
COLUMNS = ("event_id", "customer_id", "event_type", "occurred_at", "page", "feature")


def payloads(column: str) -> tuple[str, str]:
    """A script that marks the window and an image whose error handler opens a dialog."""
    return (
        f'<script>window.__pwned="{column}"</script>',
        f"<img src=x onerror=\"alert('{column}')\">",
    )


def hostile_rows() -> list[dict[str, str]]:
    """Per payload and column, one event carrying it there: valid events (scored, in the
    run report and GX's unexpected values) and one with a bad time per payload (quarantined
    with every column hostile)."""
    rows = []
    for number in range(len(payloads("x"))):
        clean = {
            "event_id": f"e{number}",
            "customer_id": f"c{number}",
            "event_type": "login",
            "occurred_at": "2026-03-30T10:00:00Z",
            "page": "/home",
            "feature": "search",
        }
        for column in COLUMNS:
            if column != "occurred_at":
                marked = payloads(column)[number]
                rows.append(clean | {"event_id": f"e{number}-{column}", column: marked})
        # the hostile customer falls into churn_risk: flagged, so listed by the run report
        rows.append(
            clean
            | {
                "event_id": f"e{number}-escalation",
                "customer_id": payloads("customer_id")[number],
                "event_type": "support_escalation",
            }
        )
        rows.append({column: payloads(column)[number] for column in COLUMNS})
    return rows


CONFIG = ScoringConfig.model_validate(
    {
        "weights": {"login": 1, "support_escalation": -20},
        "followups": {
            "rules": [
                {
                    "name": "churn_risk",
                    "kind": "at_risk",
                    "when": {"condition": "tier", "tiers": ["churn_risk"]},
                    "reason": "negative score ({score})",
                }
            ]
        },
    }
)


@pytest.fixture(scope="module")
def hostile_run(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> RunSummary:
    root = tmp_path_factory.mktemp("hostile")
    with (root / "events.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(hostile_rows())
    customers = pl.DataFrame(
        {"customer_id": ["c0", "c1"], "plan": [payloads("plan")[0], payloads("plan")[1]]}
    )
    customers.write_csv(root / "customers.csv")
    return daily_scoring(
        events=str(root / "events.csv"),
        config=CONFIG,
        run_date=RUN_DATE,
        output=str(root / "out"),
        customers=str(root / "customers.csv"),
    )


def test_the_payloads_reach_the_quarantine_unchanged(hostile_run: RunSummary) -> None:
    quarantine = pl.read_parquet(Path(hostile_run.output) / "quarantine")
    for column in COLUMNS:
        assert sorted(quarantine[column]) == sorted(payloads(column)), column


def test_no_payload_runs_in_any_page_the_run_wrote(hostile_run: RunSummary, chromium: Any) -> None:
    from playwright.sync_api import Route

    output = Path(hostile_run.output)
    pages = sorted(output.rglob("*.html"))
    report = output / "reports" / f"run_date={RUN_DATE}" / "report.html"
    validations = output / "data_docs" / f"run_date={RUN_DATE}" / "validations"
    assert report in pages
    # GX's page of each suite with a finding (the hostile event types warn)
    assert validations / "raw_event_types.html" in pages
    dialogs: list[str] = []
    texts: dict[Path, str] = {}
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

        def offline(route: Route) -> None:  # GX pages load scripts from CDNs: not here
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                route.abort()

        page.route("**/*", offline)
        for path in pages:
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_timeout(100)  # let failed images fire their handlers
            assert page.evaluate("window.__pwned") is None, path
            texts[path] = page.inner_text("body")
    finally:
        context.close()
    assert dialogs == []
    # shown as text, not dropped: the hostile customer in the report, the event type in GX's
    # table of unexpected values, the plan in the segments
    for column in ("customer_id", "plan"):
        for payload in payloads(column):
            assert payload in texts[report], (column, payload)
    event_types = texts[validations / "raw_event_types.html"]
    for payload in payloads("event_type"):
        assert payload in event_types
