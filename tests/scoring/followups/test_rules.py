"""Follow-up rules: when each condition holds, its reason text and its margin (pure Polars)."""

from datetime import UTC, datetime

import polars as pl
import pytest
from pydantic import ValidationError

from scoring.config import ScoringConfig, TierBoundaries
from scoring.followup_config import FollowupRule, FollowupsConfig
from scoring.followups import comparison_days, followup_evidence, rule_matches
from scoring.history import score_deltas
from tests.scoring.followups.frames import NO_CONTRIBUTIONS, RUN_DATE, evidence, rule


def fired(frame: pl.LazyFrame, *rules: FollowupRule, contributions=NO_CONTRIBUTIONS) -> list:
    matches = rule_matches(frame, contributions, FollowupsConfig(rules=rules))
    return matches.select("customer_id", "rule", "reason").collect().rows()


def test_at_risk_rules_fire_with_their_evidence_in_the_reason() -> None:
    frame = evidence(
        customer_id=["a", "b", "c", "d"],
        score=[-5.0, 30.0, 55.0, 80.0],
        tier=["churn_risk", "very_disengaged", "somewhat_engaged", "highly_engaged"],
        previous_score=[10.0, 60.0, 60.0, None],
        previous_tier=["very_disengaged", "somewhat_engaged", "somewhat_engaged", None],
        score_delta=[-15.0, -30.0, -5.0, None],
        score_delta_pct=[-150.0, -50.0, -8.333333, None],
        days_inactive=[20, 3, 14, 0],
    )
    rules = (
        rule(
            "churn",
            "at_risk",
            {"condition": "tier", "tiers": ["churn_risk"]},
            "negative score ({score})",
        ),
        rule(
            "drop",
            "at_risk",
            {"condition": "score_drop", "points": 20, "percent": 100},
            "dropped {score_drop} points ({score_drop_pct} %)",
        ),
        rule(
            "quiet",
            "at_risk",
            {"condition": "inactive", "days": 14},
            "no activity for {days_inactive} days",
        ),
        rule("fell", "at_risk", {"condition": "tier_fell"}, "{previous_tier} -> {tier}"),
    )
    assert fired(frame, *rules) == [
        ("a", "churn", "negative score (-5)"),
        ("a", "drop", "dropped 15 points (150 %)"),  # 150 % >= 100 %, though 15 < 20 points
        ("a", "fell", "very_disengaged -> churn_risk"),
        ("a", "quiet", "no activity for 20 days"),
        ("b", "drop", "dropped 30 points (50 %)"),
        ("b", "fell", "somewhat_engaged -> very_disengaged"),
        ("c", "quiet", "no activity for 14 days"),  # exactly 14 days: fires
    ]  # d is new: no previous score, so no drop and no fall


def test_metric_rules_fire_on_metrics_and_never_without_them() -> None:
    rules = (
        rule("detractor", "at_risk", {"condition": "nps_detractor"}, "NPS {nps_response}"),
        rule(
            "effort",
            "at_risk",
            {"condition": "poor_effort", "min_effort_score": 4},
            "effort {effort_score}",
        ),
        rule(
            "promoter",
            "upsell_ready",
            {
                "condition": "promoter_adoption",
                "min_nps": 9,
                "min_features_used": 5,
                "min_feature_adoption_pct": 40,
            },
            "promoter using {features_used} features ({feature_adoption_pct} %)",
        ),
    )
    scores = pl.LazyFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "score": [10.0] * 4,
            "tier": ["very_disengaged"] * 4,
            "last_event_at": [datetime(2026, 3, 31, tzinfo=UTC)] * 4,
        }
    )
    metrics = pl.LazyFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "nps_response": [6, 7, 10, 9],
            "nps_category": ["detractor", "passive", "promoter", "promoter"],
            "effort_score": [4.0, 3.9, None, 1.0],
            "features_used": [1, 9, 5, 4],
            "feature_adoption_pct": [5.0, 60.0, 40.0, 80.0],
        }
    )
    with_metrics = followup_evidence(score_deltas(scores, None), scores, RUN_DATE, metrics)
    assert fired(with_metrics, *rules) == [
        ("a", "detractor", "NPS 6"),
        ("a", "effort", "effort 4"),
        ("c", "promoter", "promoter using 5 features (40 %)"),  # d: 4 features < 5
    ]
    without = followup_evidence(score_deltas(scores, None), scores, RUN_DATE, None)
    assert fired(without, *rules) == []


def test_upsell_rules_for_plans_power_users_and_usage_limits() -> None:
    scores = pl.LazyFrame(
        {
            "customer_id": ["trial-hi", "trial-lo", "pro-power", "free-heavy", "ent-heavy"],
            "score": [85.0, 20.0, 150.0, 30.0, 30.0],
            "tier": [
                "highly_engaged",
                "very_disengaged",
                "power_user",
                "very_disengaged",
                "very_disengaged",
            ],
            "last_event_at": [datetime(2026, 3, 30, tzinfo=UTC)] * 5,
        }
    )
    customers = pl.LazyFrame(
        {
            "customer_id": ["trial-hi", "trial-lo", "pro-power", "free-heavy", "ent-heavy"],
            "plan": ["trial", "trial", "pro", "free", "enterprise"],
        }
    )
    contributions = pl.LazyFrame(
        {
            "customer_id": ["free-heavy", "ent-heavy", "trial-hi"],
            "event_type": ["report_exported"] * 3,
            "count": [8, 500, 1],
        }
    )
    rules = (
        rule(
            "pql",
            "upsell_ready",
            {"condition": "product_qualified_lead"},
            "{plan} customer scoring {tier} ({score})",
        ),
        rule("power", "upsell_ready", {"condition": "tier", "tiers": ["power_user"]}, "power user"),
        rule(
            "limit",
            "upsell_ready",
            {
                "condition": "usage_near_limit",
                "event_type": "report_exported",
                "limits": {"free": 10, "trial": 10},
                "share": 0.8,
            },
            "{usage} of {usage_limit} exports",
        ),
    )
    frame = followup_evidence(score_deltas(scores, None), scores, RUN_DATE, None, customers)
    assert fired(frame, *rules, contributions=contributions) == [
        ("free-heavy", "limit", "8 of 10 exports"),  # 8 >= 0.8 x 10
        ("pro-power", "power", "power user"),
        ("trial-hi", "pql", "trial customer scoring highly_engaged (85)"),
    ]  # ent-heavy: no limit for its plan; trial-hi: 1 of 10 exports
    no_plans = followup_evidence(score_deltas(scores, None), scores, RUN_DATE)
    assert [r[1] for r in fired(no_plans, *rules, contributions=contributions)] == ["power"]


def test_score_drop_and_tier_fall_against_the_run_n_days_ago() -> None:
    frame = evidence(
        customer_id=["a", "b", "c"],
        score=[50.0] * 3,
        tier=["somewhat_engaged"] * 3,
        previous_score=[50.0] * 3,  # flat since yesterday
        previous_tier=["somewhat_engaged"] * 3,
        score_delta=[0.0] * 3,
        score_delta_pct=[0.0] * 3,
        days_inactive=[0] * 3,
    )
    week_ago = pl.LazyFrame(
        {
            "customer_id": ["a", "b"],
            "score": [90.0, 69.0],
            "tier": ["highly_engaged", "somewhat_engaged"],
        }
    )
    config = FollowupsConfig(
        rules=(
            rule(
                "weekly_drop",
                "at_risk",
                {"condition": "score_drop", "points": 20, "days_ago": 7},
                "down {score_drop} from {previous_score} a week ago",
            ),
            rule(
                "weekly_fall",
                "at_risk",
                {"condition": "tier_fell", "days_ago": 7},
                "{previous_tier} -> {tier}",
            ),
            rule("daily_drop", "at_risk", {"condition": "score_drop", "points": 20}, "daily"),
        )
    )
    assert comparison_days(config) == [7]
    matches = rule_matches(frame, NO_CONTRIBUTIONS, config, {7: week_ago})
    assert matches.select("customer_id", "rule", "reason").collect().rows() == [
        ("a", "weekly_drop", "down 40 from 90 a week ago"),
        ("a", "weekly_fall", "highly_engaged -> somewhat_engaged"),
    ]  # b fell 19 < 20 points; c has no snapshot a week ago; nobody dropped since yesterday
    assert rule_matches(frame, NO_CONTRIBUTIONS, config, {7: None}).collect().height == 0


def test_config_sections_are_optional_and_checked() -> None:
    assert ScoringConfig().followups is None
    assert ScoringConfig.model_validate({"followups": {}}).followups == FollowupsConfig()
    with pytest.raises(ValidationError, match="unknown evidence \\['scor'\\]"):
        rule("x", "at_risk", {"condition": "tier", "tiers": ["churn_risk"]}, "{scor}")
    with pytest.raises(ValidationError, match="tiers must be a non-empty list"):
        rule("x", "at_risk", {"condition": "tier", "tiers": ["gold"]}, "r")
    with pytest.raises(ValidationError, match="needs `points`, `percent` or both"):
        rule("x", "at_risk", {"condition": "score_drop"}, "r")
    with pytest.raises(ValidationError, match=r"union_tag_invalid|does not match any"):
        rule("x", "at_risk", {"condition": "moon_phase"}, "r")
    with pytest.raises(ValidationError, match="must be unique"):
        FollowupsConfig(rules=(rule("x", "at_risk", {"condition": "tier_fell"}, "r"),) * 2)


def test_each_condition_has_a_documented_margin_past_its_threshold() -> None:
    frame = evidence(
        customer_id=["deep", "shallow", "power"],
        score=[-20.0, 45.0, 130.0],
        tier=["churn_risk", "somewhat_engaged", "power_user"],
        previous_score=[40.0, 95.0, 150.0],
        previous_tier=["very_disengaged", "highly_engaged", "power_user"],
        score_delta=[-60.0, -50.0, -20.0],
        score_delta_pct=[-150.0, -52.631579, -13.333333],
        days_inactive=[21, 14, 0],
        nps_response=[0.0, 6.0, 10.0],
        effort_score=[6.0, 5.0, 1.0],
        features_used=[1, 2, 5],
        feature_adoption_pct=[10.0, 20.0, 100.0],
        plan=["free", "free", "free"],
    )
    rules = (
        rule("tier", "at_risk", {"condition": "tier", "tiers": ["churn_risk", "power_user"]}),
        rule("drop", "at_risk", {"condition": "score_drop", "points": 40, "percent": 100}),
        rule("quiet", "at_risk", {"condition": "inactive", "days": 14}),
        rule("fell", "at_risk", {"condition": "tier_fell"}),
        rule("detractor", "at_risk", {"condition": "nps_detractor", "max_nps": 6}),
        rule("effort", "at_risk", {"condition": "poor_effort", "min_effort_score": 4}),
        rule("pql", "upsell_ready", {"condition": "product_qualified_lead", "plans": ["free"]}),
        rule(
            "promoter",
            "upsell_ready",
            {"condition": "promoter_adoption", "min_nps": 9, "min_features_used": 5},
        ),
    )
    matches = rule_matches(frame, NO_CONTRIBUTIONS, FollowupsConfig(rules=rules))
    margins = {
        (c, r): m for c, r, m in matches.select("customer_id", "rule", "margin").collect().rows()
    }
    assert margins == {
        ("deep", "tier"): 1.5,  # 1 + (0 - -20) / 40
        ("deep", "drop"): 1.5,  # max(60 / 40, 150 % / 100 %)
        ("deep", "quiet"): 1.5,  # 21 / 14
        ("deep", "fell"): 1.0,  # one tier / 1 step
        ("deep", "detractor"): 2.0,  # 1 + (6 - 0) / 3 = 3, capped at 2
        ("deep", "effort"): 1.5,  # 6 / 4
        ("shallow", "drop"): 1.25,  # 50 / 40 (52.6 % < 100 %)
        ("shallow", "quiet"): 1.0,  # exactly 14 days
        ("shallow", "fell"): 1.0,
        ("shallow", "detractor"): 1.0,  # answered 6 = max_nps
        ("shallow", "effort"): 1.25,
        ("power", "tier"): 1.75,  # 1 + (130 - 100) / 40
        ("power", "pql"): 2.0,  # 1 + (130 - 70) / 40, capped
        ("power", "promoter"): 1.5,  # 1 + (10 - 9) / 2
    }
    lower = TierBoundaries(highly_engaged_max=120)
    again = rule_matches(frame, NO_CONTRIBUTIONS, FollowupsConfig(rules=rules[:1]), None, lower)
    assert again.filter(pl.col("customer_id") == "power").collect()["margin"].to_list() == [1.25]


def test_usage_margin_is_usage_over_the_threshold() -> None:
    frame = evidence(customer_id=["a"], score=[10.0], tier=["very_disengaged"], plan=["free"])
    contributions = pl.LazyFrame(
        {"customer_id": ["a"], "event_type": ["report_exported"], "count": [12]}
    )
    near = rule(
        "near",
        "upsell_ready",
        {"condition": "usage_near_limit", "event_type": "report_exported", "limits": {"free": 10}},
    )
    matches = rule_matches(frame, contributions, FollowupsConfig(rules=(near,)))
    assert matches.select("margin").collect().item() == 1.5  # 12 / (0.8 x 10)


def test_precedence_capacity_and_value_settings_are_checked() -> None:
    config = FollowupsConfig()
    assert config.precedence == ("at_risk", "upsell_ready")
    assert (config.capacity.per_run, config.capacity.per_owner) == (40, 8)
    assert (config.value.column, config.routing.owner_column) == ("arr", "account_owner")
    assert FollowupsConfig.model_validate({"precedence": ["upsell_ready", "at_risk"]})
    with pytest.raises(ValidationError, match="precedence must list each of"):
        FollowupsConfig.model_validate({"precedence": ["at_risk", "at_risk"]})
    with pytest.raises(ValidationError, match="precedence must list each of"):
        FollowupsConfig.model_validate({"precedence": ["at_risk"]})
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        FollowupsConfig.model_validate({"capacity": {"per_run": -1}})
    with pytest.raises(ValidationError, match="plan_values must be numbers >= 0"):
        FollowupsConfig.model_validate({"value": {"plan_values": {"pro": -5}}})
    unlimited = FollowupsConfig.model_validate({"capacity": {"per_run": None, "per_owner": None}})
    assert unlimited.capacity.per_run is None


def test_the_customers_columns_each_rule_needs() -> None:
    rules = (
        rule("pql", "upsell_ready", {"condition": "product_qualified_lead"}),
        rule(
            "limit",
            "upsell_ready",
            {"condition": "usage_near_limit", "event_type": "x", "limits": {"free": 1}},
        ),
        rule("quiet", "at_risk", {"condition": "inactive", "days": 3}),
    )
    assert FollowupsConfig(rules=rules).customer_columns_needed() == {"plan": ["pql", "limit"]}
    assert FollowupsConfig(rules=rules[2:]).customer_columns_needed() == {}
