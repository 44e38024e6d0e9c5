"""Hand-computed surveys, web and campaign metrics, with their edge cases."""

import polars as pl
import pytest

from scoring.metrics import web
from tests.scoring.metrics.frames import (
    config,
    customer_rows,
    ev,
    events,
    segment_table,
    segment_value,
)


def test_surveys_per_customer_with_off_scale_answers_and_no_responses() -> None:
    rows = customer_rows(
        events(
            ev("a", "csat_response", "2026-03-05T10:00:00Z", value=4.0),
            ev("a", "csat_response", "2026-03-06T10:00:00Z", value=3.0),
            ev("a", "csat_response", "2026-03-06T11:00:00Z", value=6.0),  # off the 1-5 scale
            ev("a", "csat_response", "2026-03-06T12:00:00Z"),  # no value: not a response
            ev("a", "csat_response", "2026-03-01T10:00:00Z", value=1.0),  # before the window
            ev("a", "nps_response", "2026-03-20T10:00:00Z", value=9.0),
            ev("a", "nps_response", "2026-03-25T10:00:00Z", value=6.0),  # latest
            ev("a", "effort_response", "2026-03-25T10:00:00Z", value=2.0),
            ev("a", "effort_response", "2026-03-25T10:00:00Z", value=5.0),
            ev("b", "login", "2026-03-25T10:00:00Z"),
        )
    )
    a, b = rows["a"], rows["b"]
    assert (a["csat_responses"], a["csat"]) == (2, 50.0)
    assert (a["nps_responses"], a["nps"], a["nps_response"], a["nps_category"]) == (
        2, 0.0, 6.0, "detractor",
    )  # fmt: skip
    assert (a["effort_responses"], a["effort_score"]) == (2, 3.5)
    assert (b["csat_responses"], b["csat"], b["nps"], b["nps_response"], b["nps_category"]) == (
        0, None, None, None, None,
    )  # fmt: skip
    assert b["effort_score"] is None


def test_nps_category_boundaries() -> None:
    rows = customer_rows(
        events(
            *[
                ev(f"c{v}", "nps_response", "2026-03-20T10:00:00Z", value=float(v))
                for v in (0, 6, 7, 8, 9, 10)
            ]
        )
    )
    assert {c: r["nps_category"] for c, r in rows.items()} == {
        "c0": "detractor", "c6": "detractor", "c7": "passive", "c8": "passive",
        "c9": "promoter", "c10": "promoter",
    }  # fmt: skip
    assert rows["c10"]["nps"] == 100.0 and rows["c0"]["nps"] == -100.0


def test_web_sessions_bounce_time_scroll_and_visitors() -> None:
    pv = "page_view"
    rows = customer_rows(
        events(
            # session s1: two pages (60 s + 30 s), scrolls 50 and 100
            ev(
                "a",
                pv,
                "2026-03-10T10:00:00Z",
                session_id="s1",
                page="/home",
                duration_s=60.0,
                scroll_pct=50.0,
            ),
            ev(
                "a",
                pv,
                "2026-03-10T10:01:00Z",
                session_id="s1",
                page="/docs",
                duration_s=30.0,
                scroll_pct=100.0,
            ),
            # session s2: one page, no duration -> bounced
            ev("a", pv, "2026-03-11T10:00:00Z", session_id="s2", page="/home"),
            ev("a", "session_start", "2026-03-11T09:59:59Z", session_id="s2"),
            # session s3: one page and a feature use in the session -> not a bounce
            ev("a", pv, "2026-03-12T10:00:00Z", session_id="s3", page="/home", duration_s=15.0),
            ev("a", "feature_used", "2026-03-12T10:00:05Z", session_id="s3", feature="api"),
            # a page view without a session counts as a page view only
            ev("a", pv, "2026-03-13T10:00:00Z", page="/pricing"),
            # b: first page view before the window -> returning visitor, single session
            ev("b", pv, "2026-02-10T10:00:00Z", session_id="b0", page="/home"),
            ev("b", pv, "2026-03-20T10:00:00Z", session_id="b1", page="/home", duration_s=10.0),
            ev("c", "login", "2026-03-20T10:00:00Z"),
        )
    )
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert (a["page_views"], a["sessions"], a["pages_per_session"]) == (5, 3, 4 / 3)
    assert a["bounce_rate"] == 100 / 3
    assert a["avg_time_on_page_s"] == 35.0  # (60 + 30 + 15) / 3 timed page views
    assert a["avg_session_duration_s"] == 52.5  # s1 90 s, s3 15 s; s2 has no duration
    assert a["scroll_depth"] == 75.0
    assert a["visitor_type"] == "new"
    assert (b["page_views"], b["sessions"], b["bounce_rate"], b["visitor_type"]) == (
        1, 1, 100.0, "returning",
    )  # fmt: skip
    assert (c["page_views"], c["sessions"], c["pages_per_session"], c["bounce_rate"]) == (
        0, 0, None, None,
    )  # fmt: skip
    assert (c["avg_time_on_page_s"], c["scroll_depth"], c["visitor_type"]) == (None, None, None)


def test_exit_rate_and_page_views_per_page() -> None:
    pv = "page_view"
    table = segment_table(
        events(
            ev("a", pv, "2026-03-10T10:00:00Z", session_id="s1", page="/home"),
            ev("a", pv, "2026-03-10T10:01:00Z", session_id="s1", page="/docs"),  # exit
            ev("b", pv, "2026-03-10T10:00:00Z", session_id="s2", page="/home"),  # exit
            ev("b", pv, "2026-03-10T11:00:00Z", session_id="s3", page="/docs"),
            ev("b", pv, "2026-03-10T11:00:00Z", session_id="s3", page="/home"),  # tie: id later
        )
    )
    assert segment_value(table, "page_views", detail="/home") == 3.0
    assert segment_value(table, "exit_rate", detail="/home") == 200 / 3
    assert segment_value(table, "exit_rate", detail="/docs") == 50.0


def test_page_views_without_a_page_are_in_no_page_row_and_exit_nowhere() -> None:
    pv = "page_view"
    table = segment_table(
        events(
            ev("a", pv, "2026-03-10T10:00:00Z", session_id="s1", page="/home"),
            ev("a", pv, "2026-03-10T10:01:00Z", session_id="s1"),  # the exit: no page
            ev("b", pv, "2026-03-10T10:00:00Z", session_id="s2", page="/home"),  # exit
            ev("b", pv, "2026-03-10T11:00:00Z"),  # no page, no session
        )
    )
    no_page = table.filter(pl.col("detail").is_null())
    assert no_page.filter(pl.col("metric") == "exit_rate").height == 0
    # page_views without a detail: the segment's total only, one row per segment value
    assert no_page.filter(pl.col("metric") == "page_views").height == (
        table.filter(pl.col("metric") == "score_mean").height
    )
    assert segment_value(table, "page_views", detail="/home") == 2.0
    assert segment_value(table, "exit_rate", detail="/home") == 50.0
    assert segment_value(table, "page_views") == 4.0


def test_campaign_rates_and_division_by_zero() -> None:
    rows = customer_rows(
        events(
            ev("a", "email_open", "2026-03-10T10:00:00Z"),
            ev("a", "email_open", "2026-03-10T10:00:00Z"),
            ev("a", "email_click", "2026-03-10T10:01:00Z"),
            *[ev("a", "impression", "2026-03-10T10:00:00Z") for _ in range(40)],
            ev("a", "social_engagement", "2026-03-10T10:00:00Z"),
            ev("a", "page_view", "2026-03-10T10:00:00Z", session_id="s1"),
            ev("a", "page_view", "2026-03-11T10:00:00Z", session_id="s2"),
            ev("a", "page_view", "2026-03-12T10:00:00Z", session_id="s3"),
            ev("a", "page_view", "2026-03-13T10:00:00Z", session_id="s4"),
            ev("a", "purchase", "2026-03-13T10:05:00Z", amount=10.0),
            ev("a", "event_registration", "2026-03-13T10:05:00Z"),
            ev("b", "email_click", "2026-03-10T10:01:00Z"),  # a click without a tracked open
        )
    )
    a, b = rows["a"], rows["b"]
    assert (a["ctr"], a["social_engagement_rate"], a["conversion_rate"]) == (50.0, 2.5, 25.0)
    assert a["event_registrations"] == 1
    assert (b["email_clicks"], b["ctr"], b["social_engagement_rate"], b["conversion_rate"]) == (
        1, None, None, None,
    )  # fmt: skip


def test_conversion_events_are_configurable() -> None:
    cfg = config(conversion_events=("signup", "purchase"))
    rows = customer_rows(
        events(
            ev("a", "page_view", "2026-03-10T10:00:00Z", session_id="s1"),
            ev("a", "signup", "2026-03-10T10:00:00Z"),
            ev("a", "purchase", "2026-03-10T10:00:00Z", amount=1.0),
        ),
        cfg,
    )
    assert rows["a"]["conversions"] == 2 and rows["a"]["conversion_rate"] == 200.0


@pytest.mark.parametrize("colliding", [False, True])
def test_an_interaction_unbounces_only_its_own_customers_session(
    monkeypatch: pytest.MonkeyPatch, colliding: bool
) -> None:
    if colliding:
        # every session hashes alike: the exact join after the hashed one still tells them apart
        monkeypatch.setattr(web, "SESSION_HASH", pl.lit(0, dtype=pl.UInt64))
    pv = "page_view"
    rows = customer_rows(
        events(
            ev("a", pv, "2026-03-12T10:00:00Z", session_id="s1", page="/home"),
            ev("a", "feature_used", "2026-03-12T10:00:05Z", session_id="s1", feature="api"),
            ev("a", pv, "2026-03-13T10:00:00Z", session_id="s2", page="/home"),
            ev("a", "feature_used", "2026-03-13T10:00:05Z", session_id="elsewhere"),
            # b's session s1 is not a's: a's interaction does not count for it
            ev("b", pv, "2026-03-12T11:00:00Z", session_id="s1", page="/home"),
        )
    )
    assert (rows["a"]["sessions"], rows["a"]["bounced_sessions"]) == (2, 1)
    assert (rows["b"]["sessions"], rows["b"]["bounced_sessions"]) == (1, 1)
