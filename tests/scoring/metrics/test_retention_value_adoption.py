"""Hand-computed retention, value, adoption and health metrics, with their edge cases."""

from datetime import UTC, date, datetime

import polars as pl
import pytest

from scoring.config import HealthConfig, HealthWeights
from scoring.engagement import Window
from scoring.metrics import retention
from scoring.schema import UTC_TIMESTAMP
from tests.scoring.metrics.frames import (
    config,
    customer_rows,
    ev,
    events,
    segment_table,
    segment_value,
)

CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d"],
        "plan": ["pro", "free", "pro", "trial"],
        "region": ["NA", "NA", "EMEA", "EMEA"],
        "signup_date": ["2025-01-10", "2025-06-01", "2026-03-05", "2026-03-28"],
    }
)


def _retention_events() -> pl.LazyFrame:
    return events(
        # a: active on 3 days (two logins the same day), app installed then kept
        ev("a", "login", "2026-03-10T08:00:00Z"),
        ev("a", "login", "2026-03-10T20:00:00Z"),
        ev("a", "feature_used", "2026-03-11T10:00:00Z", feature="api"),
        ev("a", "login", "2026-03-31T23:59:59Z"),
        ev("a", "app_uninstalled", "2026-01-01T10:00:00Z"),
        ev("a", "app_install", "2026-03-12T10:00:00Z"),
        # b: seen before the window, active once, cancels in the window, deletes the app
        ev("b", "login", "2026-02-01T10:00:00Z"),
        ev("b", "login", "2026-03-15T10:00:00Z"),
        ev("b", "app_install", "2026-03-15T11:00:00Z"),
        ev("b", "app_uninstalled", "2026-03-16T11:00:00Z"),
        ev("b", "subscription_cancelled", "2026-03-16T12:00:00Z"),
        # c: signed up in the window (customers table), only an email open: not active
        ev("c", "email_open", "2026-03-06T10:00:00Z"),
        # d: cancelled before the window: not a customer at its start
        ev("d", "login", "2026-01-05T10:00:00Z"),
        ev("d", "subscription_cancelled", "2026-01-06T10:00:00Z"),
    )


def test_activity_stickiness_churn_and_app_per_customer() -> None:
    rows = customer_rows(_retention_events(), customers=CUSTOMERS)
    a, b, c, d = (rows[k] for k in "abcd")
    assert (a["active_days"], a["stickiness"], b["active_days"], b["stickiness"]) == (
        3, 10.0, 1, 100 / 30,
    )  # fmt: skip
    assert (c["active_days"], c["stickiness"]) == (0, None)
    assert [r["at_period_start"] for r in (a, b, c, d)] == [1, 1, 0, 0]
    assert [r["churned"] for r in (a, b, c, d)] == [False, True, False, False]
    assert [r["app_status"] for r in (a, b, c, d)] == ["kept", "deleted", None, None]
    assert (a["app_installs"], b["app_installs"], b["app_uninstalls"]) == (1, 1, 1)
    assert [r["paying"] for r in (a, b, c, d)] == [1, 0, 1, 0]


def test_who_counts_as_active_returning_paying_at_the_start_and_lost() -> None:
    window = Window.ending_on(date(2026, 3, 31), 30)  # from 2026-03-02 00:00 UTC
    rows = pl.DataFrame(
        {
            "active_days": [0, 1, 2, 5],
            "plan": [None, "free", "pro", "trial"],
            # before the window: signed up / an event / neither (signed up on its first day) /
            # an event, but cancelled before it
            "first_event_at": [
                datetime(2026, 3, 10, tzinfo=UTC),
                datetime(2026, 2, 1, tzinfo=UTC),
                None,
                datetime(2026, 1, 1, tzinfo=UTC),
            ],
            "signup_date": [date(2026, 1, 5), None, date(2026, 3, 2), None],
            "cancelled_before_start": [False, False, False, True],
            "churned": [True, True, False, True],
        },
        schema_overrides={"first_event_at": UTC_TIMESTAMP},
    )
    states = rows.select(
        retention.active(pl.col("active_days")).alias("active"),
        retention.returning(pl.col("active_days")).alias("returning"),
        retention.paying(pl.col("plan"), ("starter", "pro", "enterprise")).alias("paying"),
        retention.at_period_start(
            pl.col("first_event_at"),
            pl.col("signup_date"),
            pl.col("cancelled_before_start"),
            window,
        ).alias("at_period_start"),
        pl.col("churned"),
    ).select(
        pl.exclude("churned"),
        retention.active_paying(pl.col("paying"), pl.col("active")).alias("active_paying"),
        retention.lost(pl.col("at_period_start"), pl.col("churned")).alias("lost"),
    )
    assert states.rows() == [
        (0, 0, 1, 1, 0, 1),  # unknown plan counts as paying
        (1, 0, 0, 1, 0, 1),
        (1, 1, 1, 0, 1, 0),
        (1, 1, 0, 0, 0, 0),  # churned, but not a customer at the start
    ]
    churn = states.select(
        retention.churn_rate(pl.col("lost").sum(), pl.col("at_period_start").sum())
    )
    assert churn.item() == 100.0


def test_retention_per_segment() -> None:
    table = segment_table(_retention_events(), customers=CUSTOMERS)
    # at start: a, b; lost: b -> 50 %
    assert segment_value(table, "churn_rate") == 50.0
    # paying: a, c (pro); active paying: a -> 50 %
    assert segment_value(table, "activity_rate") == 50.0
    # active: a (3 days), b (1 day): DAU/MAU = (4 / 30) / 2
    assert segment_value(table, "stickiness") == 4 / 30 / 2 * 100
    assert segment_value(table, "returning_users_pct") == 50.0
    assert segment_value(table, "mean_return_days") == 1.0
    # installers in the window: a (kept), b (deleted)
    assert segment_value(table, "app_keep_pct") == 50.0
    assert segment_value(table, "activity_rate", "plan", "free") is None  # no paying customer
    assert segment_value(table, "churn_rate", "region", "EMEA") is None  # nobody at start


def test_clv_lookback_and_purchases_without_amount() -> None:
    cfg = config(clv_lookback_days=30, customer_lifespan_years=2.0)
    rows = customer_rows(
        events(
            ev("a", "purchase", "2026-03-10T10:00:00Z", amount=10.0),
            ev("a", "purchase", "2026-03-20T10:00:00Z", amount=30.0),
            ev("a", "purchase", "2026-03-21T10:00:00Z"),  # no amount: not valued
            ev("a", "purchase", "2026-03-01T10:00:00Z", amount=99.0),  # before the lookback
            ev("b", "purchase", "2026-03-10T10:00:00Z", amount=50.0),
            ev("c", "login", "2026-03-10T10:00:00Z"),
        ),
        cfg,
    )
    a, c = rows["a"], rows["c"]
    assert (a["purchases"], a["revenue"], a["average_order_value"]) == (2, 40.0, 20.0)
    assert a["clv"] == 20.0 * 2 * (365 / 30) * 2.0
    assert (c["purchases"], c["revenue"], c["average_order_value"], c["clv"]) == (
        0,
        0.0,
        None,
        None,
    )
    table = segment_table(
        events(
            ev("a", "purchase", "2026-03-10T10:00:00Z", amount=10.0),
            ev("a", "purchase", "2026-03-20T10:00:00Z", amount=30.0),
            ev("b", "purchase", "2026-03-10T10:00:00Z", amount=50.0),
            ev("c", "login", "2026-03-10T10:00:00Z"),
        ),
        cfg,
    )
    # AOV 30 x (3 purchases / 2 purchasers) x 365/30 x 2 = mean CLV of a and b
    assert segment_value(table, "clv") == 30.0 * 1.5 * (365 / 30) * 2.0


def test_features_and_first_week() -> None:
    cfg = config(features=("api", "reports", "exports", "alerts"))
    rows = customer_rows(
        events(
            ev("a", "feature_used", "2026-03-10T10:00:00Z", feature="api"),
            ev("a", "feature_used", "2026-03-11T10:00:00Z", feature="api"),
            ev("a", "feature_used", "2026-03-11T10:00:00Z", feature="reports"),
            ev("a", "feature_used", "2026-03-11T10:00:00Z", feature="unknown"),  # not catalogued
            # b signs up on 03-20: first week 03-20..03-26 (login x1, feature x2 on 03-26)
            ev("b", "signup", "2026-03-20T15:00:00Z"),
            ev("b", "login", "2026-03-20T16:00:00Z"),
            ev("b", "feature_used", "2026-03-26T23:00:00Z", feature="api"),
            ev("b", "login", "2026-03-27T00:00:00Z"),  # day 8: after the first week
            # c signs up on 03-26: its first week is not over on 03-31
            ev("c", "signup", "2026-03-26T10:00:00Z"),
            ev("c", "login", "2026-03-26T11:00:00Z"),
            # d signed up before the window
            ev("d", "signup", "2026-02-01T10:00:00Z"),
        ),
        cfg,
    )
    a, b, c, d = (rows[k] for k in "abcd")
    assert (a["features_used"], a["feature_adoption_pct"]) == (2, 50.0)
    assert (b["features_used"], b["feature_adoption_pct"]) == (1, 25.0)
    assert (c["features_used"], c["feature_adoption_pct"]) == (0, 0.0)
    assert (b["first_week_score"], b["first_week_events"]) == (3.0, 3)
    assert (c["first_week_score"], c["first_week_events"]) == (None, 0)
    assert d["first_week_score"] is None
    assert str(b["signup_date"]) == "2026-03-20"


def test_feature_adoption_per_feature_over_active_customers() -> None:
    table = segment_table(
        events(
            ev("a", "feature_used", "2026-03-10T10:00:00Z", feature="api"),
            ev("b", "feature_used", "2026-03-10T10:00:00Z", feature="reports"),
            ev("b", "feature_used", "2026-03-10T10:00:00Z", feature="api"),
            ev("c", "login", "2026-03-10T10:00:00Z"),
            ev("d", "email_open", "2026-03-10T10:00:00Z"),  # not active
        )
    )
    assert segment_value(table, "feature_adoption", detail="api") == 200 / 3
    assert segment_value(table, "feature_adoption", detail="reports") == 100 / 3
    # catalogue = 2 features seen; (1 + 2 + 0 + 0) / (2 x 4) x 100
    assert segment_value(table, "feature_adoption_pct") == 37.5


def test_health_components_and_segment_weights() -> None:
    cfg = config(
        effort_scale=5,
        health=HealthConfig(
            segment="plan",
            segment_weights={"free": HealthWeights(engagement=1, satisfaction=0, support=0,
                                                   billing=0)},
        ),
    )  # fmt: skip
    customers = pl.DataFrame({"customer_id": ["a", "b", "c"], "plan": ["pro", "free", "pro"]})
    rows = customer_rows(
        events(
            *[ev("a", "login", "2026-03-10T10:00:00Z") for _ in range(50)],  # score 50
            ev("a", "csat_response", "2026-03-10T10:00:00Z", value=5.0),  # csat 100
            ev("a", "nps_response", "2026-03-10T10:00:00Z", value=8.0),  # 80
            ev("a", "effort_response", "2026-03-10T10:00:00Z", value=2.0),  # (5-2)/4 = 75
            ev("a", "support_ticket", "2026-03-10T10:00:00Z"),
            ev("a", "support_ticket_escalated", "2026-03-10T10:00:00Z"),  # 100 - 10 - 25
            ev("a", "downgrade", "2026-03-10T10:00:00Z"),  # billing 50
            *[ev("b", "login", "2026-03-10T10:00:00Z") for _ in range(30)],
            ev("b", "subscription_cancelled", "2026-03-11T10:00:00Z"),  # score -10
            ev("c", "login", "2026-03-10T10:00:00Z"),
        ),
        cfg,
        customers,
    )
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert (a["health_engagement"], a["health_satisfaction"]) == (50.0, 85.0)
    assert (a["health_support"], a["health_billing"]) == (65.0, 50.0)
    assert a["health_score"] == 0.4 * 50 + 0.3 * 85 + 0.15 * 65 + 0.15 * 50
    # no survey: satisfaction null, the other weights re-normalized
    assert c["health_satisfaction"] is None
    assert c["health_score"] == (0.4 * 1 + 0.15 * 100 + 0.15 * 100) / 0.7
    # plan free: engagement only; score -10 clips to 0
    assert (b["health_engagement"], b["health_billing"], b["health_score"]) == (0.0, 0.0, 0.0)


def test_active_days_in_long_windows_use_distinct_days() -> None:
    from scoring.config import MetricsConfig, ScoringConfig

    frame = events(
        ev("a", "login", "2025-12-31T23:59:59Z"),  # day 1 of a 91-day window
        ev("a", "login", "2026-01-01T00:00:00Z"),
        ev("a", "login", "2026-01-01T12:00:00Z"),
        ev("a", "login", "2026-03-31T23:00:00Z"),
        ev("a", "login", "2025-12-30T23:00:00Z"),  # before the window
    )
    for days, expected in ((91, 3), (30, 1)):  # 91: distinct pairs; 30: the day mask
        cfg = ScoringConfig(window_days=days, weights={"login": 1}, metrics=MetricsConfig())
        row = customer_rows(frame, cfg)["a"]
        assert row["active_days"] == expected
        assert row["stickiness"] == pytest.approx(expected * 100 / days, rel=1e-12)


def test_the_panel_runs_on_the_in_memory_engine_with_events_before_the_window() -> None:
    """The day mask raised 2 to a negative power for events before the window: the in-memory
    engine (which evaluates both branches of when/then) failed on it."""
    from scoring.metrics.panel import metric_panel
    from tests.scoring.metrics.frames import RUN_DATE

    panel = metric_panel(_retention_events(), config(), RUN_DATE, CUSTOMERS.lazy())
    rows = panel.customers.collect(engine="in-memory").sort("customer_id")
    assert rows["active_days"].to_list() == [3, 1, 0, 0]
