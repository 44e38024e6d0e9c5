"""Evidence per follow-up rule: the rules evaluated point in time, and their precision, lift and
coverage, on hand-made cases."""

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from scoring.backtest.evidence import metric_snapshot_on, rule_evidence, rule_matches_on
from scoring.config import ScoringConfig
from scoring.followup_config import FollowupsConfig
from scoring.schema import UTC_TIMESTAMP

D = date(2026, 3, 10)
RULES = FollowupsConfig.model_validate(
    {
        "rules": [
            {
                "name": "negative",
                "kind": "at_risk",
                "when": {"condition": "tier", "tiers": ["churn_risk"]},
                "reason": "x",
            },
            {
                "name": "dropped",
                "kind": "at_risk",
                "when": {"condition": "score_drop", "points": 10},
                "reason": "x",
            },
            {
                "name": "quiet",
                "kind": "at_risk",
                "when": {"condition": "inactive", "days": 5},
                "reason": "x",
            },
            {
                "name": "fell",
                "kind": "at_risk",
                "when": {"condition": "tier_fell", "steps": 1},
                "reason": "x",
            },
            {
                "name": "monthly_drop",
                "kind": "at_risk",
                "when": {"condition": "score_drop", "points": 10, "days_ago": 30},
                "reason": "x",
            },
            {
                "name": "busy",
                "kind": "upsell_ready",
                "when": {
                    "condition": "usage_near_limit",
                    "event_type": "report",
                    "limits": {"free": 10},
                    "share": 0.5,
                },
                "reason": "x",
            },
            {
                "name": "detractor",
                "kind": "at_risk",
                "when": {"condition": "nps_detractor", "max_nps": 6},
                "reason": "x",
            },
        ]
    }
)


def test_rules_hold_on_the_evidence_of_the_date() -> None:
    today = pl.LazyFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "score": [-5.0, 30.0, 50.0, 45.0],
            "tier": ["churn_risk", "very_disengaged", "somewhat_engaged", "somewhat_engaged"],
            "last_event_date": [D, D - timedelta(days=5), D - timedelta(days=4), D],
        }
    )
    yesterday = pl.LazyFrame(
        {
            "customer_id": ["a", "b", "c"],
            "score": [-4.0, 45.0, 50.0],
            "tier": ["churn_risk", "somewhat_engaged", "somewhat_engaged"],
        }
    )
    month_ago = pl.LazyFrame({"customer_id": ["d"], "score": [60.0], "tier": ["somewhat_engaged"]})
    counts = pl.LazyFrame(
        {"customer_id": ["c", "d"], "event_type": ["report", "report"], "count": [5, 4]}
    )
    plans = pl.LazyFrame({"customer_id": ["c", "d"], "plan": ["free", "free"]})
    metrics = pl.LazyFrame({"customer_id": ["d"], "nps_response": [3.0]})
    matches = rule_matches_on(
        D, today, {1: yesterday, 30: month_ago}, counts, RULES, metrics, plans
    )
    found = {(c, r) for c, r in matches.select("customer_id", "rule").collect().iter_rows()}
    assert found == {
        ("a", "negative"),
        ("b", "dropped"),  # 45 -> 30 since yesterday
        ("b", "quiet"),  # last event 5 days before D
        ("b", "fell"),
        ("d", "monthly_drop"),  # 60 -> 45 since 30 days ago; d had no score yesterday
        ("c", "busy"),  # 5 of 10 reports on the free plan
        ("d", "detractor"),
    }
    assert matches.collect()["observation_date"].unique().to_list() == [D]


def test_precision_lift_and_coverage_hand_computed() -> None:
    # 4 observations, a and c churned (base 0.5). r1 flags a and b, r2 flags a, r3 nobody
    observations = pl.LazyFrame(
        {
            "period": ["test"] * 4,
            "observation_date": [D] * 4,
            "customer_id": ["a", "b", "c", "d"],
            "churned": [True, False, True, False],
        }
    )
    matches = pl.LazyFrame(
        {
            "observation_date": [D] * 3,
            "customer_id": ["a", "b", "a"],
            "rule": ["r1", "r1", "r2"],
            "kind": ["at_risk"] * 3,
        }
    )
    rules = [("r1", "at_risk"), ("r2", "at_risk"), ("r3", "at_risk")]
    found = {
        r["rule"]: r
        for r in rule_evidence(matches, observations, rules, ["period"]).collect().to_dicts()
    }
    assert set(found) == {"r1", "r2", "r3", "any at_risk rule"}
    assert (found["r1"]["flagged"], found["r1"]["flagged_churned"]) == (2, 1)
    assert found["r1"]["precision"] == 0.5 and found["r1"]["lift"] == 1.0
    assert found["r1"]["coverage"] == 0.5
    assert found["r2"]["precision"] == 1.0 and found["r2"]["lift"] == 2.0
    assert found["r3"]["flagged"] == 0 and found["r3"]["precision"] is None
    assert found["r3"]["coverage"] == 0.0
    # the kind counts each observation once: a and b
    assert (found["any at_risk rule"]["flagged"], found["any at_risk rule"]["coverage"]) == (2, 0.5)
    assert found["r1"]["base_churn_rate"] == 0.5 and found["r1"]["observations"] == 4


def test_metric_snapshot_as_of_the_date() -> None:
    def at(days: int) -> datetime:
        return datetime.combine(D - timedelta(days=days), datetime.min.time(), tzinfo=UTC)

    events = pl.LazyFrame(
        {
            "event_id": ["1", "2", "3", "4", "5", "6"],
            "customer_id": ["a", "a", "a", "a", "a", "b"],
            "event_type": [
                "nps_response",
                "nps_response",
                "effort_response",
                "effort_response",
                "feature_used",
                "feature_used",
            ],
            "occurred_at": [at(3), at(1), at(2), at(40), at(1), at(0)],
            "value": [9.0, 4.0, 6.0, 2.0, None, None],
            "feature": [None, None, None, None, "api", "reports"],
        },
        schema_overrides={"occurred_at": UTC_TIMESTAMP},
    )
    config = ScoringConfig(window_days=30)
    snapshot = {
        r["customer_id"]: r for r in metric_snapshot_on(events, config, D).collect().to_dicts()
    }
    # a: latest NPS 4; one effort answer in the window (6); 1 of the 2 features used in it
    assert snapshot["a"]["nps_response"] == 4.0 and snapshot["a"]["effort_score"] == 6.0
    assert (snapshot["a"]["features_used"], snapshot["a"]["feature_adoption_pct"]) == (1, 50.0)
    assert snapshot["b"]["nps_response"] is None
    assert snapshot["b"]["feature_adoption_pct"] == pytest.approx(50.0)
