"""The contracts of the follow-up outputs: flags, flag enrolments and actions."""

import polars as pl

from scoring.schema.columns import Column

_EVIDENCE: tuple[Column, ...] = (
    Column("score", pl.Float64(), "score on the run date"),
    Column("tier", pl.String(), "tier on the run date"),
    Column("previous_score", pl.Float64(), "score at the previous run (null: new customer)", True),
    Column("previous_tier", pl.String(), "tier at the previous run", True),
    Column("score_delta", pl.Float64(), "score - previous_score", True),
    Column("score_delta_pct", pl.Float64(), "100 x score_delta / |previous_score|", True),
    Column("days_inactive", pl.Int64(), "run date - date of the last event"),
    Column("nps_response", pl.Float64(), "latest NPS answer (0-10)", True),
    Column("effort_score", pl.Float64(), "mean effort answer", True),
    Column("features_used", pl.Int64(), "distinct features used in the window", True),
    Column("feature_adoption_pct", pl.Float64(), "share of features used, %", True),
    Column("plan", pl.String(), "plan from the customers table (trial, free, ...)", True),
)

FLAG_KINDS: tuple[str, ...] = ("at_risk", "upsell_ready")
FLAG_STATUSES: tuple[str, ...] = ("new", "open", "queued")
ACTION_KINDS: tuple[str, ...] = ("new", "changed", "resolved")
ACTION_STATUSES: tuple[str, ...] = ("new", "open", "resolved")

_ROUTING: tuple[Column, ...] = (
    Column(
        "account_owner", pl.String(), "owner from the customers table (routing.owner_column)", True
    ),
    Column(
        "customer_name", pl.String(), "name from the customers table (routing.name_column)", True
    ),
    Column(
        "value", pl.Float64(), "customer value: value.column, else value.plan_values[plan]", True
    ),
)

FLAGS: tuple[Column, ...] = (
    Column("customer_id", pl.String(), "customer id (one flag per customer)"),
    Column(
        "kind",
        pl.String(),
        "at_risk / upsell_ready: the first kind of `precedence` that holds",
        allowed=FLAG_KINDS,
    ),
    Column(
        "status",
        pl.String(),
        "new (delivered by this run) / open (delivered before) / queued (over capacity, "
        "not delivered yet)",
        allowed=FLAG_STATUSES,
    ),
    Column("priority", pl.Int64(), "1 = act first: priority_score descending, then customer_id"),
    Column("priority_score", pl.Float64(), "strength x value_factor x freshness"),
    Column(
        "strength",
        pl.Float64(),
        "sum over the open rules of their margin past the threshold (each 1-2)",
    ),
    Column(
        "value_factor",
        pl.Float64(),
        "sqrt(value / median positive value) clamped to 0.5-2; 1 when unknown",
    ),
    Column(
        "freshness",
        pl.Float64(),
        "1 + 2 / (1 + days since raised_on): 3 the day it is raised; 1 if raised on the first run",
    ),
    Column("flagged_on", pl.Date(), "run date the earliest open rule flagged the customer"),
    Column("raised_on", pl.Date(), "run date the newest open rule flagged the customer"),
    Column("rules", pl.String(), "every open rule of the kind, ', '-separated"),
    Column("reasons", pl.String(), "their reason texts with evidence, '; '-separated"),
    Column(
        "context",
        pl.String(),
        "rules of the other kind that hold too (not a flag), e.g. "
        "'also upsell_ready (power_user): ...'",
        True,
    ),
    *_ROUTING,
    *_EVIDENCE,
    Column(
        "explanation",
        pl.String(),
        "score change by event type, e.g. '-24: 12 fewer login (-12), ...'",
        True,
    ),
)
"""The flags of a run: one row per flagged customer, ranked, with its delivery status."""

FLAG_ENROLMENTS: tuple[Column, ...] = (
    Column("customer_id", pl.String(), "customer id"),
    Column("rule", pl.String(), "follow-up rule name"),
    Column("kind", pl.String(), "at_risk / upsell_ready"),
    Column("status", pl.String(), "open (flagged) / cooling (resolved, in the cool-down)"),
    Column("flagged_on", pl.Date(), "run date of the current or last enrolment"),
    Column("last_held_on", pl.Date(), "last run date the rule held"),
)
"""Per customer x rule enrolment state: what dedupe and re-enrolment read at the next run."""

ACTIONS: tuple[Column, ...] = (
    Column("action_id", pl.String(), "idempotency key: <run_date>:<kind>:<customer_id>:<action>"),
    Column("action", pl.String(), "new / changed / resolved", allowed=ACTION_KINDS),
    Column(
        "delivered",
        pl.Boolean(),
        "sent to the CRM drop and webhook; false: a queued flag resolved before delivery "
        "(recorded only)",
    ),
    Column(
        "status",
        pl.String(),
        "the flag after this run: new / open / resolved",
        allowed=ACTION_STATUSES,
    ),
    Column("customer_id", pl.String(), "customer id"),
    Column("kind", pl.String(), "at_risk / upsell_ready", allowed=FLAG_KINDS),
    Column("priority", pl.Int64(), "the flag's priority this run (null when resolved)", True),
    Column("priority_score", pl.Float64(), "the flag's priority_score (null when resolved)", True),
    Column("flagged_on", pl.Date(), "run date the flag started"),
    Column("rules", pl.String(), "open rules now (null when resolved)", True),
    Column("previous_rules", pl.String(), "open rules at the previous run (null when new)", True),
    Column("reasons", pl.String(), "reason texts with evidence, '; '-separated"),
    Column("context", pl.String(), "rules of the other kind that hold too", True),
    Column("message", pl.String(), "Slack-style text of the action"),
    *_ROUTING,
    *_EVIDENCE,
    Column("explanation", pl.String(), "score change by event type", True),
)
"""What changed since the previous run, what downstream CRMs consume: the delivered rows, and
queued flags resolved before delivery (delivered = false)."""
