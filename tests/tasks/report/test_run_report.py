"""The run report: self-contained HTML, tolerant of missing segments and flags."""

import base64
import re
from datetime import date

import polars as pl

from scoring.config import TierBoundaries
from scoring.schema import CONTRIBUTIONS, FLAGS, polars_schema
from scoring.schema import SCORES as SCORES_CONTRACT
from tasks.publish.write import write_partition
from tasks.report.call_list import mover_explanations, mover_ids
from tasks.report.run_report import (
    changes_since_previous,
    derived_lists,
    render_report,
    segment_summary,
)

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
    assert "derived from tiers and score changes: no follow-up rules are configured" in page
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


def flags_frame(**columns: list[object]) -> pl.DataFrame:
    """A flags table (the FLAGS contract) with the given columns, others null."""
    height = len(columns["customer_id"])
    return pl.DataFrame(
        {c.name: columns.get(c.name, [None] * height) for c in FLAGS}, schema=polars_schema(FLAGS)
    )


FLAGGED = flags_frame(
    customer_id=["a", "b", "c", "d"],
    kind=["at_risk", "upsell_ready", "at_risk", "at_risk"],
    status=["open", "new", "queued", "new"],
    priority=[3, 2, 4, 1],
    customer_name=["Acme <b>Corp</b>", None, "Cedar", "Dune"],
    account_owner=["Ada", "Bruno", "Ada", None],
    value=[12000.0, 500.0, 900.0, None],
    reasons=["negative", "power user", "quiet", "score drop >= 10"],
    context=[None, None, None, "also upsell_ready (power_user): power"],
    explanation=["-24: 12 fewer login (-12)", None, None, "-60: 1 more cancel (-60)"],
    score=[-5.0, 150.0, 20.0, 30.0],
    tier=["churn_risk", "power_user", "very_disengaged", "very_disengaged"],
)
CONFIGURED = MANIFEST | {"config": {"followups": {"call_list_size": 25}}}
TRENDS = pl.DataFrame(
    {
        "customer_id": ["d", "d", "d", "a"],
        "run_date": [date(2026, 3, 29), date(2026, 3, 30), RUN_DATE, RUN_DATE],
        "score": [90.0, 90.0, 30.0, -5.0],
    }
)


def test_the_report_opens_with_the_call_list_by_priority() -> None:
    scores = SCORES.with_columns(pl.Series("plan", ["pro", "free", "pro", "free"]))
    assert segment_summary(scores, "plan").rows() == [
        ("free", 2, 25.0, 25.0, 0.0),
        ("pro", 2, 72.5, 72.5, 0.5),
    ]
    page = render_report(
        RUN_DATE, scores, CONFIGURED, HISTORY, PREVIOUS, date(2026, 3, 30), FLAGGED,
        TierBoundaries(), TRENDS,
    )  # fmt: skip
    assert len(images(page)) == 3
    call_list = page[page.index('id="call-list"') : page.index('id="queue"')]
    order = [call_list.index(name) for name in ("Dune", "power user", "Acme")]
    assert order == sorted(order)  # priority 1, 2, 3; the queued Cedar is not in it
    assert "Cedar" not in call_list and "Cedar" in page[page.index('id="queue"') :]
    assert "Acme &lt;b&gt;Corp&lt;/b&gt;" in call_list and "<b>Corp" not in page  # escaped
    assert "score drop &gt;= 10" in call_list
    assert "-60: 1 more cancel (-60)" in call_list and "also upsell_ready" in call_list
    assert call_list.count("<polyline") == 1  # d has three runs of history; a only one
    assert 'points="2.0,2.0 48.0,2.0 94.0,22.0"' in call_list  # 90, 90, then 30 at the bottom
    assert '<a href="../../flags/run_date=2026-03-31/part-0.parquet">' in page
    assert "2 new today, 1 open" in call_list and "1 queued over capacity" in call_list
    assert page.index('id="call-list"') < page.index('id="movers-down"') < page.index("Counts")
    assert "Top at-risk customers" not in page


def test_biggest_movers_down_and_up_with_why() -> None:
    explanations = pl.DataFrame(
        {"customer_id": ["a", "c"], "explanation": ["-6: 6 fewer login (-6)", "+10: more"]}
    )
    page = render_report(
        RUN_DATE, SCORES, CONFIGURED, HISTORY, PREVIOUS, date(2026, 3, 30), FLAGGED,
        TierBoundaries(), None, explanations,
    )  # fmt: skip
    down = page[page.index('id="movers-down"') : page.index('id="movers-up"')]
    up = page[page.index('id="movers-up"') : page.index("Counts")]
    assert down.index("<td>a</td>") < down.index("<td>b</td>")  # -6 before -5
    assert "-6: 6 fewer login (-6)" in down and "<td>c</td>" not in down
    assert "+10: more" in up and "<td>a</td>" not in up


def test_without_followup_rules_the_lists_are_derived_and_say_so() -> None:
    page = render_report(
        RUN_DATE, SCORES, MANIFEST, HISTORY, PREVIOUS, date(2026, 3, 30), FLAGGED.clear(),
        TierBoundaries(),
    )  # fmt: skip
    assert 'id="call-list"' not in page
    assert "no follow-up rules are configured" in page
    at_risk = page[page.index("Top at-risk customers") : page.index("Top upsell-ready")]
    assert "<td>a</td>" in at_risk and "<td>b</td>" in at_risk  # churn_risk, falling


def test_a_baseline_report_says_nothing_was_delivered() -> None:
    queued = FLAGGED.with_columns(pl.lit("queued").alias("status"))
    manifest = CONFIGURED | {"followups": {"baseline": True}}
    page = render_report(RUN_DATE, SCORES, manifest, HISTORY, None, None, queued, TierBoundaries())
    assert "Baseline run (no earlier history): nothing was delivered" in page
    assert "no flag to work today" in page and "Biggest movers" not in page


def test_the_movers_alone_are_explained_from_the_staged_and_published_runs(tmp_path) -> None:
    before, staging, output = date(2026, 3, 30), tmp_path / "staging", tmp_path / "out"

    def stage(scores: pl.DataFrame, logins: list[int], where, day: date) -> None:
        contributions = pl.DataFrame(
            {
                "customer_id": scores["customer_id"][: len(logins)],
                "event_type": ["login"] * len(logins),
                "count": logins,
                "weight": [1.0] * len(logins),
                "contribution": [float(n) for n in logins],
            }
        )
        scored = scores.with_columns(
            pl.lit(0).alias("event_count"), pl.lit(None).alias("last_event_at")
        )
        write_partition(scored, "scores", SCORES_CONTRACT, where, day)
        write_partition(contributions, "contributions", CONTRIBUTIONS, where, day)

    today = pl.DataFrame(
        {"customer_id": ["a", "b", "c"], "score": [2.0, 7.0, 5.0], "tier": ["t"] * 3}
    )
    earlier = pl.DataFrame(
        {"customer_id": ["a", "b", "c"], "score": [5.0, 7.0, 1.0], "tier": ["t"] * 3}
    )
    stage(today, [2, 7, 5], staging, RUN_DATE)
    stage(earlier, [5, 7, 1], output, before)

    movers = mover_ids(changes_since_previous(today, earlier))
    explained = mover_explanations(str(staging), str(output), RUN_DATE, before, movers)

    assert sorted(movers) == ["a", "c"]  # b did not move
    assert explained.sort("customer_id").rows() == [
        ("a", "-3: 3 fewer login (-3)"),
        ("c", "+4: 4 more login (+4)"),
    ]
    only_a = mover_explanations(str(staging), str(output), RUN_DATE, before, ["a"])
    assert only_a["customer_id"].to_list() == ["a"]
