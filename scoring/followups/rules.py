"""The follow-up rules: when each condition holds, how far past its threshold (its margin, the
strength of the signal), the reason text, and the per-rule enrolment with its cool-down.

Per customer and rule the enrolment is:

- `open` from the first run the rule holds until the first run it does not (resolved);
- then `cooling`: while run_date - last_held_on <= cooldown_days the rule may hold again
  without flagging (suppressed); after that it flags again as new.
"""

import string
from collections.abc import Mapping
from datetime import date

import polars as pl

from scoring.config import TierBoundaries
from scoring.followup_config import (
    Condition,
    FollowupRule,
    FollowupsConfig,
    Inactive,
    NpsDetractor,
    PoorEffort,
    ProductQualifiedLead,
    PromoterAdoption,
    ScoreDrop,
    TierFell,
    TierIs,
    UsageNearLimit,
)
from scoring.followups.evidence import compared_days_ago, compared_evidence, usage_evidence
from scoring.history import number_text, tier_rank
from scoring.schema import TIERS

ENROLMENT: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "rule": pl.String(),
    "kind": pl.String(),
    "status": pl.String(),
    "flagged_on": pl.Date(),
    "last_held_on": pl.Date(),
}

MATCHES: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "rule": pl.String(),
    "kind": pl.String(),
    "reason": pl.String(),
    "margin": pl.Float64(),
}

TEXT_EVIDENCE = frozenset({"tier", "previous_tier", "plan"})
MARGIN_CAP = 2.0
"""The most one rule adds to a flag's strength (a margin lies in [1, MARGIN_CAP])."""
TIER_MARGIN_POINTS = 40.0
"""Score points past a tier boundary that add 1 to a tier rule's margin (a tier's width)."""


def empty_enrolments() -> pl.LazyFrame:
    """The enrolment state before any run."""
    return pl.LazyFrame(schema=ENROLMENT)


def condition_holds(condition: Condition) -> pl.Expr:
    """True where the condition holds on the evidence; a missing input never holds."""
    match condition:
        case TierIs(tiers=tiers):
            holds = pl.col("tier").is_in(list(tiers))
        case ScoreDrop(points=points, percent=percent):
            by_points = pl.col("score_delta") <= -points if points is not None else pl.lit(False)
            by_percent = (
                pl.col("score_delta_pct") <= -percent if percent is not None else pl.lit(False)
            )
            holds = by_points.fill_null(False) | by_percent.fill_null(False)
        case Inactive(days=days):
            holds = pl.col("days_inactive") >= days
        case TierFell(steps=steps):
            holds = tier_rank(pl.col("previous_tier")) - tier_rank(pl.col("tier")) >= steps
        case NpsDetractor(max_nps=max_nps):
            holds = pl.col("nps_response") <= max_nps
        case PoorEffort(min_effort_score=minimum):
            holds = pl.col("effort_score") >= minimum
        case ProductQualifiedLead(plans=plans, tiers=tiers):
            holds = pl.col("plan").is_in(list(plans)) & pl.col("tier").is_in(list(tiers))
        case PromoterAdoption(
            min_nps=min_nps,
            min_features_used=min_features,
            min_feature_adoption_pct=min_adoption,
        ):
            holds = pl.col("nps_response") >= min_nps
            if min_features is not None:
                holds = holds & (pl.col("features_used") >= min_features)
            if min_adoption is not None:
                holds = holds & (pl.col("feature_adoption_pct") >= min_adoption)
        case UsageNearLimit(share=share):
            holds = pl.col("usage") >= share * pl.col("usage_limit")
    return holds.fill_null(False)


def tier_floor(tiers: tuple[str, ...], boundaries: TierBoundaries) -> float | None:
    """The lowest score of the lowest of `tiers` (None: churn_risk has no floor)."""
    floors = (
        None,
        boundaries.churn_risk_below,
        boundaries.very_disengaged_max,
        boundaries.somewhat_engaged_max,
        boundaries.highly_engaged_max,
    )
    return floors[min(TIERS.index(tier) for tier in tiers)]


def condition_margin(condition: Condition, boundaries: TierBoundaries) -> pl.Expr:
    """How far past its threshold a holding condition is, clipped to [1, MARGIN_CAP = 2]:

    tier: 1 + (points below churn_risk_below or above highly_engaged_max) / 40;
    score_drop: max(drop / points, drop % / percent); inactive: days_inactive / days;
    tier_fell: tiers fallen / steps; nps_detractor: 1 + (max_nps - answer) / 3;
    poor_effort: effort_score / min_effort_score;
    product_qualified_lead: 1 + (score - floor of its lowest tier) / 40;
    promoter_adoption: 1 + (answer - min_nps) / 2; usage_near_limit: usage / (share x limit).
    """
    score = pl.col("score")
    match condition:
        case TierIs():
            outside = pl.max_horizontal(
                boundaries.churn_risk_below - score, score - boundaries.highly_engaged_max, 0.0
            )
            margin = 1 + outside / TIER_MARGIN_POINTS
        case ScoreDrop(points=points, percent=percent):
            margin = pl.max_horizontal(
                pl.col("score_drop") / points if points is not None else pl.lit(None),
                pl.col("score_drop_pct") / percent if percent is not None else pl.lit(None),
            )
        case Inactive(days=days):
            margin = pl.col("days_inactive") / days
        case TierFell(steps=steps):
            margin = (tier_rank(pl.col("previous_tier")) - tier_rank(pl.col("tier"))) / steps
        case NpsDetractor(max_nps=max_nps):
            margin = 1 + (max_nps - pl.col("nps_response")) / 3
        case PoorEffort(min_effort_score=minimum):
            margin = pl.col("effort_score") / minimum
        case ProductQualifiedLead(tiers=tiers):
            floor = tier_floor(tiers, boundaries)
            margin = pl.lit(1.0) if floor is None else 1 + (score - floor) / TIER_MARGIN_POINTS
        case PromoterAdoption(min_nps=min_nps):
            margin = 1 + (pl.col("nps_response") - min_nps) / 2
        case UsageNearLimit(share=share):
            margin = pl.col("usage") / (share * pl.col("usage_limit"))
    return margin.cast(pl.Float64).clip(1.0, MARGIN_CAP).fill_null(1.0).round(6)


def reason_text(template: str) -> pl.Expr:
    """The reason template with its {evidence} placeholders filled in ("n/a" when null)."""
    parts: list[pl.Expr] = []
    for literal, field, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append(pl.lit(literal))
        if field:
            value = pl.col(field) if field in TEXT_EVIDENCE else number_text(pl.col(field))
            parts.append(value.fill_null("n/a"))
    return pl.concat_str(parts) if parts else pl.lit("")


def matches_of(
    rule: FollowupRule,
    evidence: pl.LazyFrame,
    contributions: pl.LazyFrame,
    snapshots_days_ago: Mapping[int, pl.LazyFrame | None],
    boundaries: TierBoundaries,
) -> pl.LazyFrame:
    """The customers for whom one rule holds: customer_id, rule, kind, reason, margin."""
    days_ago = compared_days_ago(rule.when)
    if days_ago is not None:
        evidence = compared_evidence(evidence, snapshots_days_ago.get(days_ago))
    evidence = evidence.with_columns(
        (-pl.col("score_delta")).alias("score_drop"),
        (-pl.col("score_delta_pct")).alias("score_drop_pct"),
    )
    return (
        usage_evidence(evidence, contributions, rule.when)
        .filter(condition_holds(rule.when))
        .select(
            "customer_id",
            pl.lit(rule.name).alias("rule"),
            pl.lit(rule.kind).alias("kind"),
            reason_text(rule.reason).alias("reason"),
            condition_margin(rule.when, boundaries).alias("margin"),
        )
    )


def rule_matches(
    evidence: pl.LazyFrame,
    contributions: pl.LazyFrame,
    config: FollowupsConfig,
    snapshots_days_ago: Mapping[int, pl.LazyFrame | None] | None = None,
    boundaries: TierBoundaries | None = None,
) -> pl.LazyFrame:
    """Every (customer, rule) that holds on the run date: customer_id, rule, kind, reason and
    margin (condition_margin).

    `snapshots_days_ago[n]` is the history snapshot of the run n days before (None when
    there was none), for rules comparing with `days_ago: n` instead of the previous run.
    """
    snapshots = snapshots_days_ago or {}
    bounds = boundaries or TierBoundaries()
    return pl.concat(
        [
            pl.LazyFrame(schema=MATCHES),
            *(
                matches_of(rule, evidence, contributions, snapshots, bounds)
                for rule in config.rules
            ),
        ]
    ).sort("customer_id", "rule")


def rule_enrolments(
    matches: pl.LazyFrame, previous: pl.LazyFrame, run_date: date, cooldown_days: int
) -> pl.LazyFrame:
    """The enrolment state after the run date, from the rules that hold today and the state
    after the previous run: customer_id, rule, kind, status (open / cooling), flagged_on
    (when the current or last enrolment started), last_held_on.

    open & holds -> open; open & not -> cooling (resolved today); cooling & holds -> open
    again (flagged_on = run_date) only when run_date - last_held_on > cooldown_days, else
    cooling; no state & holds -> open. Cooling rows past the cool-down are dropped.
    """
    today = pl.lit(run_date)
    held = pl.col("held")
    was_open = pl.col("status") == "open"
    cooled_down = (today - pl.col("last_held_on")).dt.total_days() > cooldown_days
    reopens = held & (pl.col("status").is_null() | ((pl.col("status") == "cooling") & cooled_down))
    return (
        matches.select(
            "customer_id", "rule", pl.col("kind").alias("kind_today"), pl.lit(True).alias("held")
        )
        .join(
            previous.select(list(ENROLMENT)), on=["customer_id", "rule"], how="full", coalesce=True
        )
        .with_columns(held.fill_null(False))
        .filter(held | was_open.fill_null(False) | ~cooled_down.fill_null(True))
        .select(
            "customer_id",
            "rule",
            pl.coalesce("kind_today", "kind").alias("kind"),
            pl.when(reopens | (held & was_open.fill_null(False)))
            .then(pl.lit("open"))
            .otherwise(pl.lit("cooling"))
            .alias("status"),
            pl.when(reopens).then(today).otherwise(pl.col("flagged_on")).alias("flagged_on"),
            pl.when(held).then(today).otherwise(pl.col("last_held_on")).alias("last_held_on"),
        )
        .sort("customer_id", "rule")
    )
