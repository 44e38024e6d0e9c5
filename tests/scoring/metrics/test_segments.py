"""Segments: attributes, percentiles, the engagement index, and segment = concatenated customers."""

from datetime import date

import hypothesis.strategies as st
import polars as pl
from hypothesis import HealthCheck, Phase, given, settings

from scoring.config import ScoringConfig
from scoring.metrics.panel import metric_panel
from tests.scoring.metrics.frames import (
    RUN_DATE,
    config,
    customer_rows,
    ev,
    events,
    segment_table,
    segment_value,
)


def test_attributes_from_table_events_and_derived_cohort() -> None:
    customers = pl.DataFrame(
        {"customer_id": ["a", "b"], "region": ["NA", "EMEA"], "signup_date": ["2025-11-03", None]}
    )
    frame = events(
        ev("a", "login", "2026-03-10T10:00:00Z", plan="free"),
        ev("a", "login", "2026-03-12T10:00:00Z", plan="pro"),  # latest plan wins
        ev("a", "login", "2026-03-13T10:00:00Z"),  # null plan does not erase it
        ev("b", "login", "2026-02-10T10:00:00Z", plan="starter"),
        ev("c", "login", "2026-03-10T10:00:00Z"),
    )
    table = segment_table(frame, config(), customers)
    plans = table.filter(segment="plan", metric="score_mean")
    assert dict(zip(plans["segment_value"], plans["customers"], strict=True)) == {
        "pro": 1, "starter": 1, None: 1,
    }  # fmt: skip
    cohorts = table.filter(segment="signup_cohort", metric="score_mean")
    # a: table signup date; b: no date in the table -> first event; c: first event
    assert sorted(cohorts["segment_value"].to_list()) == ["2025-11", "2026-02", "2026-03"]
    assert set(table["segment"]) == {"all", "plan", "region", "signup_cohort"}


def test_percentile_within_segment_with_ties() -> None:
    customers = pl.DataFrame(
        {"customer_id": ["a", "b", "c", "d", "e"], "plan": ["pro", "pro", "pro", "pro", "free"]}
    )
    logins = {"a": 1, "b": 3, "c": 3, "d": 10, "e": 0}
    frame = events(
        *[ev(c, "login", "2026-03-10T10:00:00Z") for c, n in logins.items() for _ in range(n)],
        ev("e", "email_open", "2026-03-10T10:00:00Z"),
    )
    rows = customer_rows(frame, customers=customers)
    assert {c: r["score_percentile"] for c, r in rows.items()} == {
        "a": 25.0, "b": 75.0, "c": 75.0, "d": 100.0, "e": 100.0,
    }  # fmt: skip
    assert rows["a"]["segment"] == "pro"


def test_engagement_index_against_the_previous_period() -> None:
    # previous window: 2026-01-31 .. 2026-03-01; current: 2026-03-02 .. 2026-03-31
    cfg = ScoringConfig(weights={"login": 1, "invite_sent": 50})
    frame = events(
        *[ev("up", "login", "2026-02-10T10:00:00Z") for _ in range(5)],
        *[ev("up", "invite_sent", "2026-03-10T10:00:00Z")],  # 5 -> 50: responding, engaged
        *[ev("down", "invite_sent", "2026-02-10T10:00:00Z") for _ in range(2)],
        *[ev("down", "login", "2026-03-10T10:00:00Z") for _ in range(3)],  # 100 -> 3
        ev("new", "login", "2026-03-20T10:00:00Z"),  # not seen before: from 0 -> 1
        ev("flat", "login", "2026-02-20T10:00:00Z"),
        ev("flat", "login", "2026-03-20T10:00:00Z"),  # 1 -> 1
    )
    rows = customer_rows(frame, cfg)
    changes = {
        c: (r["score_previous"], r["score_change"], r["responding"]) for c, r in rows.items()
    }
    assert changes == {
        "down": (100.0, -97.0, 0), "flat": (1.0, 0.0, 0), "new": (None, None, 1),
        "up": (5.0, 45.0, 1),
    }  # fmt: skip
    table = segment_table(frame, cfg)
    assert segment_value(table, "engaged_pct") == 25.0
    assert segment_value(table, "responding_pct") == 50.0
    assert segment_value(table, "disengaged_pct") == 75.0
    assert segment_value(table, "tier_share", detail="somewhat_engaged") == 25.0
    assert segment_value(table, "tier_share", detail="power_user") == 0.0


# -- properties -----------------------------------------------------------------------------

EVENT_TYPES = ("nps_response", "csat_response", "effort_response", "page_view",
               "email_open", "email_click", "impression", "social_engagement", "purchase",
               "login", "subscription_cancelled", "app_install", "app_uninstalled",
               "feature_used")  # fmt: skip

event_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(EVENT_TYPES),
        st.integers(0, 59),  # days before the run date
        st.integers(0, 10),  # survey answer / amount
        st.sampled_from(["s1", "s2", "s3", None]),
        st.sampled_from(["/home", "/docs"]),
        st.sampled_from(["api", "reports"]),
    ),
    min_size=1,
    max_size=40,
)

SEGMENTED = ("csat", "nps", "effort_score", "pages_per_session", "avg_time_on_page_s",
             "bounce_rate", "scroll_depth", "ctr", "social_engagement_rate",
             "conversion_rate", "average_order_value")  # fmt: skip
"""Metrics over events: a segment's value is the metric of all its events taken together."""

RATES = ("csat", "bounce_rate", "stickiness", "feature_adoption_pct", "churn_rate",
         "activity_rate", "new_visitors_pct", "app_keep_pct", "engaged_pct",
         "responding_pct", "disengaged_pct", "returning_users_pct",
         "offline_participation_pct", "first_week_active_pct")  # fmt: skip


def events_of(rows: list[tuple], relabel: dict[str, str] | None = None) -> pl.LazyFrame:
    relabel = relabel or {}
    return events(
        *[
            ev(relabel.get(c, c), t,
               date.fromordinal(date(2026, 3, 31).toordinal() - d).isoformat() + "T12:00:00Z",
               value=float(v), amount=float(v), session_id=s and f"{c}-{s}", page=p,
               duration_s=float(v), scroll_pct=float(v * 10), feature=f)
            for c, t, d, v, s, p, f in rows
        ]
    )  # fmt: skip


CUSTOMER_PLANS = pl.DataFrame({"customer_id": ["a", "b", "c", "d"], "plan": ["x", "x", "y", "y"]})


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a panel is slow
)
@given(event_rows)
def test_rates_are_percentages_and_nps_is_bounded(rows: list[tuple]) -> None:
    frame = events_of(rows)
    table = segment_table(frame, config(), CUSTOMER_PLANS)
    rates = table.filter(pl.col("metric").is_in(RATES) | (pl.col("metric") == "tier_share"))
    assert rates["value"].drop_nulls().is_between(0, 100).all()
    assert table.filter(metric="nps")["value"].drop_nulls().is_between(-100, 100).all()
    customers = metric_panel(frame, config(), RUN_DATE, CUSTOMER_PLANS.lazy()).customers.collect()
    for metric in ("csat", "bounce_rate", "stickiness", "feature_adoption_pct", "score_percentile"):
        assert customers[metric].drop_nulls().is_between(0, 100).all(), metric
    assert customers["nps"].drop_nulls().is_between(-100, 100).all()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a panel is slow
)
@given(event_rows)
def test_segment_equals_the_metric_of_its_customers_concatenated(rows: list[tuple]) -> None:
    table = segment_table(events_of(rows), config(), CUSTOMER_PLANS)
    # every customer of plan x becomes one customer "x" (same for y)
    merged = customer_rows(events_of(rows, {"a": "x", "b": "x", "c": "y", "d": "y"}))
    for plan in ("x", "y"):
        if plan not in merged:
            continue
        for metric in SEGMENTED:
            expected = merged[plan][metric]
            actual = segment_value(table, metric, "plan", plan)
            if expected is None:
                assert actual is None, metric
            else:
                assert actual is not None and abs(actual - expected) <= 1e-9 * max(
                    1.0, abs(expected)
                ), (metric, actual, expected)
    everyone = customer_rows(events_of(rows, {c: "all" for c in "abcd"}))["all"]
    for metric in SEGMENTED:
        expected, actual = everyone[metric], segment_value(table, metric)
        assert (actual is None) == (expected is None), metric
        if expected is not None:
            assert abs(actual - expected) <= 1e-9 * max(1.0, abs(expected)), metric
