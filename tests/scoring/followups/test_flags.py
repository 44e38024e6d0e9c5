"""One flag per customer: the precedence between kinds, the suppressed kind as context, the
strength of a flag and when it was raised."""

import polars as pl

from scoring.followup_config import FollowupsConfig
from tests.scoring.followups.frames import Followups, day, evidence, rule

RULES = (
    rule("churn", "at_risk", {"condition": "tier", "tiers": ["churn_risk"]}, "negative ({score})"),
    rule("drop", "at_risk", {"condition": "score_drop", "points": 20}, "dropped {score_drop}"),
    rule("answered", "upsell_ready", {"condition": "nps_detractor", "max_nps": 10}, "NPS"),
    rule("pql", "upsell_ready", {"condition": "product_qualified_lead", "plans": ["trial"],
                                 "tiers": ["churn_risk"]}, "{plan} trial"),
)  # fmt: skip


def both_kinds(**columns: list[object]) -> pl.LazyFrame:
    """Customer x at risk (negative, dropped 34) and upsell-ready (answered NPS, trial)."""
    return evidence(
        customer_id=["x"],
        score=[-33.9],
        tier=["churn_risk"],
        score_delta=[-34.0],
        nps_response=[10.0],
        plan=["trial"],
        days_inactive=[0],
        **columns,
    )


def test_one_flag_per_customer_the_first_kind_of_the_precedence() -> None:
    flags, actions = Followups.start(FollowupsConfig(rules=RULES)).run(both_kinds(), day(1))
    assert flags.select("customer_id", "kind", "rules", "reasons", "context").rows() == [
        (
            "x",
            "at_risk",
            "churn, drop",
            "negative (-33.9); dropped 34",
            "also upsell_ready (answered, pql): NPS; trial trial",
        )
    ]
    assert actions.select("kind", "action").rows() == [("at_risk", "new")]
    reversed_order = FollowupsConfig(rules=RULES, precedence=("upsell_ready", "at_risk"))
    flags, _ = Followups.start(reversed_order).run(both_kinds(), day(1))
    assert flags.select("kind", "rules", "context").rows() == [
        (
            "upsell_ready",
            "answered, pql",
            "also at_risk (churn, drop): negative (-33.9); dropped 34",
        )
    ]


def test_the_other_kind_takes_over_when_the_first_clears() -> None:
    followups = Followups.start(FollowupsConfig(rules=RULES))
    followups.run(both_kinds(), day(1))
    recovered = both_kinds().with_columns(
        pl.lit(5.0).alias("score"), pl.lit("very_disengaged").alias("tier"),
        pl.lit(0.0).alias("score_delta"),
    )  # fmt: skip
    flags, actions = followups.run(recovered, day(2))
    assert flags.select("kind", "rules", "flagged_on", "context").rows() == [
        ("upsell_ready", "answered", day(1), None)  # held since day 1, suppressed until now
    ]
    assert actions.select("kind", "action").sort("kind").rows() == [
        ("at_risk", "resolved"),
        ("upsell_ready", "new"),
    ]


def test_strength_sums_the_margins_and_a_new_reason_raises_the_flag_again() -> None:
    followups = Followups.start(FollowupsConfig(rules=RULES[:2]))
    steady = both_kinds(previous_score=[-33.9]).with_columns(pl.lit(0.0).alias("score_delta"))
    flags, _ = followups.run(steady, day(1))
    assert flags.select("strength", "flagged_on", "raised_on").rows() == [
        (1.8475, day(1), day(1))  # churn_risk: 1 + 33.9 / 40
    ]
    flags, _ = followups.run(steady, day(2))
    assert flags.select("strength", "raised_on", "freshness").rows() == [
        (1.8475, day(1), 2.0)  # a day old
    ]
    flags, _ = followups.run(both_kinds(), day(3))  # dropped 34 >= 20 points: margin 1.7
    assert flags.select("strength", "flagged_on", "raised_on", "freshness").rows() == [
        (3.5475, day(1), day(3), 3.0)
    ]
