"""Follow-up rules, flags with their reasons, dedupe / cool-down and actions (pure Polars)."""

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from pydantic import ValidationError

from scoring.config import ScoringConfig
from scoring.followup_config import FollowupRule, FollowupsConfig
from scoring.followups import (
    EVIDENCE,
    comparison_days,
    current_flags,
    empty_enrolments,
    empty_flags,
    flag_actions,
    followup_evidence,
    rule_enrolments,
    rule_matches,
)
from scoring.history import score_deltas

RUN_DATE = date(2026, 3, 31)
NO_EXPLANATIONS = pl.LazyFrame(schema={"customer_id": pl.String(), "explanation": pl.String()})
NO_CONTRIBUTIONS = pl.LazyFrame(
    schema={"customer_id": pl.String(), "event_type": pl.String(), "count": pl.Int64()}
)


def rule(name: str, kind: str, when: dict[str, object], reason: str) -> FollowupRule:
    return FollowupRule.model_validate({"name": name, "kind": kind, "when": when, "reason": reason})


def evidence(**columns: list[object]) -> pl.LazyFrame:
    """An evidence frame with the given columns, others null."""
    height = len(columns["customer_id"])
    return pl.LazyFrame(
        {name: columns.get(name, [None] * height) for name in EVIDENCE}, schema=EVIDENCE
    )


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


def day(n: int) -> date:
    return date(2026, 3, 1) + timedelta(days=n - 1)


def test_enrolment_dedupes_resolves_suppresses_in_cool_down_and_re_enrols() -> None:
    """One rule, cool-down 2 days; the rule holds on days 1, 2, 4, 7 and 8 only."""
    holds_on = {1, 2, 4, 7, 8}
    drop = rule(
        "drop", "at_risk", {"condition": "score_drop", "points": 10}, "dropped {score_drop}"
    )
    config = FollowupsConfig(cooldown_days=2, rules=(drop,))
    state, flags = empty_enrolments(), empty_flags()
    seen = []
    for n in range(1, 12):
        frame = evidence(
            customer_id=["fading"],
            score=[5.0],
            tier=["very_disengaged"],
            score_delta=[-12.0 if n in holds_on else 0.0],
            days_inactive=[0],
        )
        matches = rule_matches(frame, NO_CONTRIBUTIONS, config)
        state = rule_enrolments(matches, state, day(n), config.cooldown_days).collect().lazy()
        today = current_flags(state, matches, frame, NO_EXPLANATIONS).collect()
        actions = flag_actions(today.lazy(), flags, frame, NO_EXPLANATIONS, day(n)).collect()
        flags = today.lazy()
        enrolment = state.collect().rows()
        seen.append(
            (
                n,
                enrolment[0][3:] if enrolment else None,
                actions.select("action", "flagged_on").rows(),
            )
        )
    assert seen == [
        (1, ("open", day(1), day(1)), [("new", day(1))]),  # flagged the day it fires
        (2, ("open", day(1), day(2)), []),  # not flagged again
        (3, ("cooling", day(1), day(2)), [("resolved", day(1))]),  # recovered
        (4, ("cooling", day(1), day(4)), []),  # holds within the cool-down: suppressed
        (5, ("cooling", day(1), day(4)), []),
        (6, ("cooling", day(1), day(4)), []),
        (7, ("open", day(7), day(7)), [("new", day(7))]),  # 3 days since it held > 2
        (8, ("open", day(7), day(8)), []),
        (9, ("cooling", day(7), day(8)), [("resolved", day(7))]),
        (10, ("cooling", day(7), day(8)), []),
        (11, None, []),  # past the cool-down: the state is forgotten
    ]


def test_flag_carries_every_open_reason_and_changes_when_a_rule_joins() -> None:
    rules = (
        rule("churn", "at_risk", {"condition": "tier", "tiers": ["churn_risk"]}, "negative"),
        rule(
            "quiet", "at_risk", {"condition": "inactive", "days": 7}, "quiet {days_inactive} days"
        ),
        rule("power", "upsell_ready", {"condition": "tier", "tiers": ["power_user"]}, "power"),
    )
    config = FollowupsConfig(rules=rules)
    explanations = pl.LazyFrame({"customer_id": ["a"], "explanation": ["-30: 1 more x (-30)"]})

    def run(days_inactive: int, n: int, state, flags):
        frame = evidence(
            customer_id=["a"],
            score=[-10.0],
            tier=["churn_risk"],
            score_delta=[-30.0],
            days_inactive=[days_inactive],
        )
        matches = rule_matches(frame, NO_CONTRIBUTIONS, config)
        state = rule_enrolments(matches, state, day(n), 7).collect().lazy()
        today = current_flags(state, matches, frame, explanations).collect()
        actions = flag_actions(today.lazy(), flags, frame, explanations, day(n)).collect()
        return state, today, actions

    state, today, actions = run(3, 1, empty_enrolments(), empty_flags())
    assert today.select("customer_id", "kind", "rules", "reasons").rows() == [
        ("a", "at_risk", "churn", "negative")
    ]
    state, today, actions = run(8, 2, state, today.lazy())
    assert today.select("flagged_on", "rules", "reasons", "score_delta", "explanation").rows() == [
        (day(1), "churn, quiet", "negative; quiet 8 days", -30.0, "-30: 1 more x (-30)")
    ]
    assert actions.select("action_id", "action", "rules", "previous_rules").rows() == [
        ("2026-03-02:at_risk:a:changed", "changed", "churn, quiet", "churn")
    ]
    assert actions["message"][0] == (
        ":warning: *At risk* · reasons changed · customer `a` · score -10 (churn_risk)"
        " · change -30: 1 more x (-30)\n• negative\n• quiet 8 days"
    )


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
