"""Follow-ups: at-risk and upsell-ready flags from configurable rules, their de-duplication
with a re-enrolment cool-down, and the actions (new / changed / resolved) CRMs consume.

A rule holds for a customer on a run date when its condition is true on that date's
evidence. Per customer and rule the enrolment is:

- `open` from the first run the rule holds until the first run it does not (resolved);
- then `cooling`: while run_date - last_held_on <= cooldown_days the rule may hold again
  without flagging (suppressed); after that it flags again as new.

A flag is one customer x kind with at least one open rule; it carries every open rule, its
reason text and the evidence numbers.
"""

import string
from collections.abc import Mapping
from datetime import date

import polars as pl

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
from scoring.history import metric_snapshot, number_text, score_deltas, tier_rank

EVIDENCE: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "score": pl.Float64(),
    "tier": pl.String(),
    "previous_score": pl.Float64(),
    "previous_tier": pl.String(),
    "score_delta": pl.Float64(),
    "score_delta_pct": pl.Float64(),
    "days_inactive": pl.Int64(),
    "nps_response": pl.Float64(),
    "effort_score": pl.Float64(),
    "features_used": pl.Int64(),
    "feature_adoption_pct": pl.Float64(),
    "plan": pl.String(),
}
"""The evidence of every rule, per customer (flags and actions carry these columns)."""

ENROLMENT: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "rule": pl.String(),
    "kind": pl.String(),
    "status": pl.String(),
    "flagged_on": pl.Date(),
    "last_held_on": pl.Date(),
}

FLAG_KEYS = ["customer_id", "kind"]
TEXT_EVIDENCE = frozenset({"tier", "previous_tier", "plan"})
KIND_TITLES = {"at_risk": ":warning: *At risk*", "upsell_ready": ":rocket: *Upsell ready*"}
ACTION_WORDS = {"new": "new flag", "changed": "reasons changed", "resolved": "resolved"}


def empty_enrolments() -> pl.LazyFrame:
    """The enrolment state before any run."""
    return pl.LazyFrame(schema=ENROLMENT)


def followup_evidence(
    deltas: pl.LazyFrame,
    scores: pl.LazyFrame,
    run_date: date,
    metrics: pl.LazyFrame | None = None,
    customers: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Per scored customer, the EVIDENCE columns: deltas versus the previous run,
    days_inactive = run_date - date of the last event, the metric snapshot (null without a
    metrics table) and the plan (null without a customers table)."""
    plans = (
        pl.LazyFrame(schema={"customer_id": pl.String(), "plan": pl.String()})
        if customers is None
        else customers.select(pl.col("customer_id").cast(pl.String), pl.col("plan").cast(pl.String))
    )
    days_inactive = (pl.lit(run_date) - pl.col("last_event_at").dt.date()).dt.total_days()
    return (
        deltas.join(
            scores.select("customer_id", days_inactive.cast(pl.Int64).alias("days_inactive")),
            on="customer_id",
            how="left",
        )
        .join(metric_snapshot(metrics), on="customer_id", how="left")
        .join(plans.unique("customer_id", keep="last"), on="customer_id", how="left")
        .select([pl.col(name).cast(dtype) for name, dtype in EVIDENCE.items()])
        .sort("customer_id")
    )


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


def usage_evidence(
    evidence: pl.LazyFrame, contributions: pl.LazyFrame, condition: Condition
) -> pl.LazyFrame:
    """The evidence plus usage (window count of the rule's event type) and usage_limit (the
    plan's limit); null for rules that are not about usage."""
    if not isinstance(condition, UsageNearLimit):
        return evidence.with_columns(
            pl.lit(None, pl.Int64).alias("usage"), pl.lit(None, pl.Float64).alias("usage_limit")
        )
    usage = contributions.filter(pl.col("event_type") == condition.event_type).select(
        "customer_id", pl.col("count").alias("usage")
    )
    limit = pl.col("plan").replace_strict(
        list(condition.limits),
        list(condition.limits.values()),
        default=None,
        return_dtype=pl.Float64,
    )
    return evidence.join(usage, on="customer_id", how="left").with_columns(
        pl.col("usage").fill_null(0), limit.alias("usage_limit")
    )


def compared_days_ago(condition: Condition) -> int | None:
    """How many days back a comparing condition looks (None: the previous run)."""
    return condition.days_ago if isinstance(condition, ScoreDrop | TierFell) else None


def compared_evidence(evidence: pl.LazyFrame, earlier: pl.LazyFrame | None) -> pl.LazyFrame:
    """The evidence with previous_score, previous_tier, score_delta and score_delta_pct taken
    against another snapshot (e.g. N days ago; None: no such run, so they are null)."""
    deltas = score_deltas(evidence.select("customer_id", "score", "tier"), earlier)
    return evidence.drop("previous_score", "previous_tier", "score_delta", "score_delta_pct").join(
        deltas.drop("score", "tier"), on="customer_id", how="left"
    )


def matches_of(
    rule: FollowupRule,
    evidence: pl.LazyFrame,
    contributions: pl.LazyFrame,
    snapshots_days_ago: Mapping[int, pl.LazyFrame | None],
) -> pl.LazyFrame:
    """The customers for whom one rule holds: customer_id, rule, kind, reason."""
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
        )
    )


def rule_matches(
    evidence: pl.LazyFrame,
    contributions: pl.LazyFrame,
    config: FollowupsConfig,
    snapshots_days_ago: Mapping[int, pl.LazyFrame | None] | None = None,
) -> pl.LazyFrame:
    """Every (customer, rule) that holds on the run date: customer_id, rule, kind, reason.

    `snapshots_days_ago[n]` is the history snapshot of the run n days before (None when
    there was none), for rules comparing with `days_ago: n` instead of the previous run.
    """
    empty = pl.LazyFrame(
        schema={
            "customer_id": pl.String(),
            "rule": pl.String(),
            "kind": pl.String(),
            "reason": pl.String(),
        }
    )
    snapshots = snapshots_days_ago or {}
    return pl.concat(
        [empty, *(matches_of(rule, evidence, contributions, snapshots) for rule in config.rules)]
    ).sort("customer_id", "rule")


def comparison_days(config: FollowupsConfig) -> list[int]:
    """The distinct `days_ago` the rules compare with (their snapshots are needed)."""
    return sorted({days for rule in config.rules if (days := compared_days_ago(rule.when))})


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


def current_flags(
    enrolments: pl.LazyFrame,
    matches: pl.LazyFrame,
    evidence: pl.LazyFrame,
    explanations: pl.LazyFrame,
) -> pl.LazyFrame:
    """One row per customer x kind with at least one open rule: flagged_on (earliest open
    enrolment), rules (", "-joined), reasons ("; "-joined, same order), the evidence and
    the explanation of the score change."""
    return (
        enrolments.filter(pl.col("status") == "open")
        .join(
            matches.select("customer_id", "rule", "reason"), on=["customer_id", "rule"], how="left"
        )
        .sort("customer_id", "kind", "rule")
        .group_by(FLAG_KEYS, maintain_order=True)
        .agg(
            pl.col("flagged_on").min(),
            pl.col("rule").str.join(", ").alias("rules"),
            pl.col("reason").str.join("; ").alias("reasons"),
        )
        .join(evidence, on="customer_id", how="left")
        .join(explanations, on="customer_id", how="left")
        .sort(FLAG_KEYS)
    )


def empty_flags() -> pl.LazyFrame:
    """The flag table before any run."""
    return current_flags(
        empty_enrolments(),
        pl.LazyFrame(
            schema={"customer_id": pl.String(), "rule": pl.String(), "reason": pl.String()}
        ),
        pl.LazyFrame(schema=EVIDENCE),
        pl.LazyFrame(schema={"customer_id": pl.String(), "explanation": pl.String()}),
    )


def action_message() -> pl.Expr:
    """Slack-style text of an action: title, action, customer, score and tier, the change,
    then one bullet per reason."""
    title = pl.col("kind").replace_strict(KIND_TITLES, return_dtype=pl.String)
    word = pl.col("action").replace_strict(ACTION_WORDS, return_dtype=pl.String)
    change = (
        pl.when(pl.col("explanation").is_not_null())
        .then(pl.format(" · change {}", pl.col("explanation")))
        .otherwise(pl.lit(""))
    )
    bullets = pl.concat_str(pl.lit("\n• "), pl.col("reasons").str.replace_all("; ", "\n• "))
    return pl.format(
        "{} · {} · customer `{}` · score {} ({}){}{}",
        title,
        word,
        pl.col("customer_id"),
        number_text(pl.col("score")),
        pl.col("tier"),
        change,
        bullets,
    )


def flag_actions(
    today: pl.LazyFrame,
    before: pl.LazyFrame,
    evidence: pl.LazyFrame,
    explanations: pl.LazyFrame,
    run_date: date,
) -> pl.LazyFrame:
    """What changed in the flags since the previous run, one row per customer x kind:
    new (flagged now, not before), changed (flagged both times, other rules), resolved
    (flagged before, not now), with today's evidence (a resolved flag shows the recovery).
    action_id = "<run_date>:<kind>:<customer_id>:<action>" is its delivery's idempotency key.
    """
    evidence_columns = [name for name in EVIDENCE if name != "customer_id"]
    previous = before.select(
        *FLAG_KEYS,
        pl.col("flagged_on").alias("flagged_on_before"),
        pl.col("rules").alias("previous_rules"),
    )
    action = (
        pl.when(pl.col("previous_rules").is_null())
        .then(pl.lit("new"))
        .when(pl.col("rules").is_null())
        .then(pl.lit("resolved"))
        .when(pl.col("rules") != pl.col("previous_rules"))
        .then(pl.lit("changed"))
    )
    return (
        today.select(*FLAG_KEYS, "flagged_on", "rules", "reasons")
        .join(previous, on=FLAG_KEYS, how="full", coalesce=True)
        .with_columns(action.alias("action"))
        .filter(pl.col("action").is_not_null())
        .join(evidence, on="customer_id", how="left")
        .join(explanations, on="customer_id", how="left")
        .with_columns(
            pl.format(
                "{}:{}:{}:{}", pl.lit(run_date.isoformat()), "kind", "customer_id", "action"
            ).alias("action_id"),
            pl.coalesce("flagged_on", "flagged_on_before").alias("flagged_on"),
            pl.when(pl.col("action") == "resolved")
            .then(pl.format("no longer holds: {}", pl.col("previous_rules")))
            .otherwise(pl.col("reasons"))
            .alias("reasons"),
        )
        .with_columns(action_message().alias("message"))
        .select(
            "action_id",
            "action",
            *FLAG_KEYS,
            "flagged_on",
            "rules",
            "previous_rules",
            "reasons",
            "message",
            *evidence_columns,
            "explanation",
        )
        .sort("kind", "customer_id")
    )
