"""The run report: self-contained HTML, tolerant of missing segments and flags."""

import base64
import re
from datetime import date

import polars as pl

from scoring.config import TierBoundaries
from tasks.report.run_report import derived_lists, flagged_customers, render_report, segment_summary

RUN_DATE = date(2026, 3, 31)
SCORES = pl.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d"],
        "score": [-5.0, 20.0, 150.0, 30.0],
        "tier": ["churn_risk", "very_disengaged", "power_user", "very_disengaged"],
    }
)
PREVIOUS = pl.DataFrame(
    {"customer_id": ["a", "b", "c"], "score": [1.0, 25.0, 140.0], "tier": ["x", "y", "z"]}
)
HISTORY = pl.DataFrame(
    {
        "run_date": [date(2026, 3, 30)] * 2 + [RUN_DATE] * 3,
        "tier": ["very_disengaged", "power_user", "churn_risk", "very_disengaged", "power_user"],
        "customers": [2, 1, 1, 2, 1],
    }
)
MANIFEST = {"config_hash": "abc123", "counts": {"rows_read": 12, "customers_scored": 4}}


def images(page: str) -> list[bytes]:
    return [
        base64.b64decode(m) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    ]


def test_report_without_segments_or_flags_derives_the_lists() -> None:
    page = render_report(
        RUN_DATE, SCORES, MANIFEST, HISTORY, PREVIOUS, date(2026, 3, 30), None, TierBoundaries()
    )
    assert page.startswith("<!doctype html>")
    pngs = images(page)
    assert len(pngs) == 2 and all(p.startswith(b"\x89PNG") for p in pngs)
    assert not re.search(r"(src|href)=[\"']?https?:", page) and "<script" not in page  # offline
    assert "the scores carry no segment column" in page
    assert "derived from tiers and score changes" in page
    assert "<td>rows_read</td><td>12</td>" in page
    # the same inputs render the same page, byte for byte (no timestamps in the PNGs)
    again = render_report(
        RUN_DATE, SCORES, MANIFEST, HISTORY, PREVIOUS, date(2026, 3, 30), None, TierBoundaries()
    )
    assert again == page


def test_derived_lists_at_risk_falling_or_churn_risk_and_upsell_power_users() -> None:
    changes = SCORES.join(
        PREVIOUS.rename({"score": "previous_score", "tier": "previous_tier"}),
        on="customer_id",
        how="left",
    ).with_columns((pl.col("score") - pl.col("previous_score")).alias("delta"))
    at_risk, upsell = derived_lists(changes)
    assert at_risk["customer_id"].to_list() == ["a", "b"]  # -5 churn_risk, 20 fell by 5
    assert upsell["customer_id"].to_list() == ["c"]


def test_segments_and_flags_are_used_when_present() -> None:
    scores = SCORES.with_columns(pl.Series("plan", ["pro", "free", "pro", "free"]))
    summary = segment_summary(scores, "plan")
    assert summary.rows() == [("free", 2, 25.0, 25.0, 0.0), ("pro", 2, 72.5, 72.5, 0.5)]
    flags = pl.DataFrame(
        {
            "customer_id": ["a", "c", "d"],
            "flag": ["at_risk", "upsell_ready", "at-risk"],
            "reasons": ["churn_risk tier", "power user", "score drop >= 10"],
        }
    )
    at_risk = flagged_customers(flags, "at_risk")
    assert at_risk is not None and at_risk["customer_id"].to_list() == ["a", "d"]
    page = render_report(RUN_DATE, scores, MANIFEST, HISTORY, None, None, flags, TierBoundaries())
    assert len(images(page)) == 3
    assert "from the follow-up flags of this run" in page
    assert "score drop &gt;= 10" in page  # escaped
    assert flagged_customers(flags.drop("flag"), "upsell") is None


def test_flag_lists_put_the_most_urgent_first() -> None:
    # the follow-up `flags` table: kind at_risk / upsell_ready, with the score
    flags = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "kind": ["at_risk", "at_risk", "upsell_ready", "upsell_ready", "at_risk"],
            "reasons": ["no activity", "NPS detractor", "power user", "promoter", "negative"],
            "score": [0.0, 38.5, 120.0, 212.0, -10.0],
        }
    )
    at_risk = flagged_customers(flags, "at_risk")
    upsell = flagged_customers(flags, "upsell")
    assert at_risk is not None and at_risk["customer_id"].to_list() == ["e", "a", "b"]
    assert upsell is not None and upsell["customer_id"].to_list() == ["d", "c"]
