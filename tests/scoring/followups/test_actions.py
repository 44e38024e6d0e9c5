"""Enrolments with their cool-down, and the actions (new / changed / resolved) of every run,
with the routing columns and the message the CRM and the webhook get (pure Polars)."""

import polars as pl

from scoring.followup_config import FollowupsConfig
from scoring.schema import ACTIONS, FLAGS, polars_schema
from tests.scoring.followups.frames import Followups, day, evidence, routing, rule


def test_enrolment_dedupes_resolves_suppresses_in_cool_down_and_re_enrols() -> None:
    """One rule, cool-down 2 days; the rule holds on days 1, 2, 4, 7 and 8 only."""
    holds_on = {1, 2, 4, 7, 8}
    drop = rule(
        "drop", "at_risk", {"condition": "score_drop", "points": 10}, "dropped {score_drop}"
    )
    followups = Followups.start(FollowupsConfig(cooldown_days=2, rules=(drop,)))
    seen = []
    for n in range(1, 12):
        frame = evidence(
            customer_id=["fading"],
            score=[5.0],
            tier=["very_disengaged"],
            score_delta=[-12.0 if n in holds_on else 0.0],
            days_inactive=[0],
        )
        _, actions = followups.run(frame, day(n))
        enrolment = followups.state.collect().rows()
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
    )
    followups = Followups.start(FollowupsConfig(rules=rules))
    explanations = pl.LazyFrame({"customer_id": ["a"], "explanation": ["-30: 1 more x (-30)"]})
    owners = routing(
        customer_id=["a"], account_owner=["Ada Moreau"], customer_name=["Acme"], value=[1200.0]
    )

    def run(days_inactive: int, n: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        frame = evidence(
            customer_id=["a"],
            score=[-10.0],
            tier=["churn_risk"],
            score_delta=[-30.0],
            days_inactive=[days_inactive],
        )
        return followups.run(frame, day(n), owners, explanations)

    today, actions = run(3, 1)
    assert today.schema == polars_schema(FLAGS)
    assert today.select("customer_id", "kind", "status", "rules", "reasons").rows() == [
        ("a", "at_risk", "new", "churn", "negative")
    ]
    today, actions = run(8, 2)
    assert actions.schema == polars_schema(ACTIONS)
    assert today.select("flagged_on", "status", "rules", "reasons", "explanation").rows() == [
        (day(1), "open", "churn, quiet", "negative; quiet 8 days", "-30: 1 more x (-30)")
    ]
    assert actions.select(
        "action_id", "action", "delivered", "status", "rules", "previous_rules", "account_owner"
    ).rows() == [
        (
            "2026-03-02:at_risk:a:changed",
            "changed",
            True,
            "open",
            "churn, quiet",
            "churn",
            "Ada Moreau",
        )
    ]
    assert actions["message"][0] == (
        ":warning: *At risk* · reasons changed · #1 · customer *Acme* (`a`) · owner Ada Moreau"
        " · value 1200 · score -10 (churn_risk) · change -30: 1 more x (-30)"
        "\n• negative\n• quiet 8 days"
    )


def test_a_queued_flag_resolved_before_delivery_is_recorded_not_delivered() -> None:
    quiet = rule("quiet", "at_risk", {"condition": "inactive", "days": 7}, "quiet")
    followups = Followups.start(
        FollowupsConfig(rules=(quiet,), capacity={"per_run": 1, "per_owner": None})
    )
    customers = ["a", "b"]

    def run(n: int, inactive: list[int]) -> tuple[pl.DataFrame, pl.DataFrame]:
        frame = evidence(
            customer_id=customers, score=[1.0, 1.0], tier=["very_disengaged"] * 2,
            days_inactive=inactive,
        )  # fmt: skip
        return followups.run(frame, day(n))

    flags, actions = run(1, [9, 8])  # a is stronger (9 / 7 days): delivered, b waits
    assert flags.select("customer_id", "status").rows() == [("a", "new"), ("b", "queued")]
    assert actions.select("action", "customer_id", "delivered").rows() == [("new", "a", True)]
    flags, actions = run(2, [0, 0])  # both recover
    assert flags.is_empty()
    assert actions.select("action", "customer_id", "delivered", "status").rows() == [
        ("resolved", "a", True, "resolved"),
        ("resolved", "b", False, "resolved"),  # never delivered: recorded only
    ]
    assert actions["reasons"].to_list() == ["no longer holds: quiet"] * 2
