"""The markdown run summary (hand-computed content)."""

from datetime import date

import polars as pl

from tasks.quality.validate import ValidationReport
from tasks.report.artifacts import markdown_table, run_summary_markdown
from tasks.score.scores import ScoreReport

VALIDATION = ValidationReport(10, 7, 2, 1, "v.parquet", "q.parquet", {"customer_id is missing": 2})
SCORING = ScoreReport(3, 4, {"churn_risk": 1, "very_disengaged": 2}, {"page_view": 1}, "s", "c")
SHIFT = pl.DataFrame(
    {
        "tier": ["churn_risk", "very_disengaged"],
        "customers": [1, 2],
        "share": [1 / 3, 2 / 3],
        "previous_customers": [0, 2],
        "previous_share": [0.0, 1.0],
        "change": [1, 0],
    }
)
MOVERS = pl.DataFrame(
    {
        "customer_id": ["bob"],
        "score": [-20.0],
        "tier": ["churn_risk"],
        "previous_score": [5.0],
        "previous_tier": ["very_disengaged"],
        "delta": [-25.0],
    }
)


def test_summary_has_counts_tiers_movers_validation_outputs_and_report_link() -> None:
    text = run_summary_markdown(
        date(2026, 3, 31),
        VALIDATION,
        SCORING,
        SHIFT,
        MOVERS,
        date(2026, 3, 30),
        ["/out/scores/run_date=2026-03-31"],
        "/out/reports/run_date=2026-03-31/report.html",
        "http://127.0.0.1:4201/reports/run_date%3D2026-03-31/report.html",
    )
    assert text.startswith("# engage run 2026-03-31\n")
    # served over http: a browser opens the link from the Prefect UI (never a file:// link)
    assert "[report.html](http://127.0.0.1:4201/reports/run_date%3D2026-03-31/report.html)" in text
    assert "file://" not in text
    assert "| 10 | 7 | 2 | 1 | 3 | 4 |" in text
    assert "## Tiers vs the previous run (2026-03-30)" in text
    assert "| churn_risk | 1 | 33.3 | 0 | 0 | 1 |" in text
    assert "| very_disengaged | 2 | 66.7 | 2 | 100 | 0 |" in text
    assert "| bob | -20 | churn_risk | 5 | very_disengaged | -25 |" in text
    assert "10 = 7 + 2 + 1" in text
    assert "| customer_id is missing | 2 |" in text
    assert "Unweighted event types (counted 0): page_view (1)" in text
    assert "- `/out/scores/run_date=2026-03-31`" in text


def test_a_report_not_served_is_named_by_its_path_with_how_to_serve_it() -> None:
    report = "/out/reports/run_date=2026-03-31/report.html"
    text = run_summary_markdown(
        date(2026, 3, 31), VALIDATION, SCORING, SHIFT, MOVERS, None, [], report
    )
    assert f"Run report: `{report}` (set ENGAGE_OUTPUT_URL to link it here)" in text
    assert "file://" not in text


def test_first_run_has_no_previous_run_and_tables_escape_pipes() -> None:
    text = run_summary_markdown(
        date(2026, 3, 31), VALIDATION, SCORING, SHIFT, MOVERS.clear(), None, [], None
    )
    assert "No previous run to compare with." in text
    assert "Run report" not in text
    assert (
        markdown_table(pl.DataFrame({"a": ["x|y"], "b": [None]}))
        == "| a | b |\n|---|---|\n| x\\|y | — |"
    )


def test_the_call_list_comes_after_the_counts() -> None:
    flags = pl.DataFrame(
        {
            "priority": [2, 1, 3],
            "status": ["open", "new", "queued"],
            "kind": ["at_risk", "upsell_ready", "at_risk"],
            "customer_id": ["a", "b", "c"],
            "customer_name": ["Acme", None, "Cedar"],
            "account_owner": ["Ada", "Bruno", "Ada"],
            "value": [12000.0, None, 5.0],
            "reasons": ["negative", "power user", "quiet"],
        }
    )
    text = run_summary_markdown(
        date(2026, 3, 31), VALIDATION, SCORING, SHIFT, MOVERS, None, [], None, flags=flags
    )
    calls = text[text.index("## Call list") : text.index("## Tiers")]
    assert "2 flags to work (1 new today, 1 open); 1 queued over capacity." in calls
    assert calls.index("| 1 | new | upsell_ready | b | — | Bruno | — | power user |") < calls.index(
        "| 2 | open | at_risk | a | Acme | Ada | 12,000 | negative |"
    )
    assert "Cedar" not in calls
    assert "## Call list" not in run_summary_markdown(
        date(2026, 3, 31), VALIDATION, SCORING, SHIFT, MOVERS, None, [], None
    )
