"""The run report's call list as a browser shows it: first on the page, in priority order,
with a drawn score trend, hostile names as text, and a working link to the flags file."""

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import polars as pl

from scoring.config import TierBoundaries
from tasks.report.run_report import render_report
from tests.tasks.report.test_run_report import (
    CONFIGURED,
    FLAGGED,
    HISTORY,
    PREVIOUS,
    RUN_DATE,
    SCORES,
    TRENDS,
)


def test_the_call_list_renders_first_in_priority_order_with_a_trend(
    chromium: Any, tmp_path: Path
) -> None:
    hostile = FLAGGED.with_columns(
        pl.when(pl.col("customer_id") == "b")
        .then(pl.lit('<img src=x onerror="alert(1)">'))
        .otherwise(pl.col("customer_name"))
        .alias("customer_name")
    )
    page_html = render_report(
        RUN_DATE, SCORES, CONFIGURED, HISTORY, PREVIOUS, RUN_DATE, hostile, TierBoundaries(), TRENDS
    )
    report = tmp_path / "reports" / f"run_date={RUN_DATE}" / "report.html"
    report.parent.mkdir(parents=True)
    report.write_text(page_html, encoding="utf-8")
    dialogs: list[str] = []
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(report.as_uri(), wait_until="load")
        page.wait_for_timeout(100)  # let a failed image fire its handler, if it could
        assert page.locator("h2").first.inner_text() == "Call list"
        rows = page.locator("table.calls tbody tr")
        assert rows.count() == 3  # the queued flag waits in the queue
        firsts = [rows.nth(i).locator("td").nth(0).inner_text() for i in range(3)]
        customers = [rows.nth(i).locator("td").nth(3).inner_text() for i in range(3)]
        assert firsts == ["1", "2", "3"]
        assert customers[0] == "Dune\nd"
        assert customers[1] == '<img src=x onerror="alert(1)">\nb'  # shown as text
        trend = rows.nth(0).locator("svg.trend polyline")
        box = trend.bounding_box()
        assert box is not None and box["width"] > 80 and box["height"] > 15
        assert rows.nth(1).locator("svg").count() == 0  # no history: a dash
        link = page.locator("a", has_text="part-0.parquet")
        target = unquote(link.evaluate("element => element.href"))
        assert target == f"file://{tmp_path}/flags/run_date={RUN_DATE}/part-0.parquet"
    finally:
        context.close()
    assert dialogs == []
