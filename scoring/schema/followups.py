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

FLAGS: tuple[Column, ...] = (
    Column("customer_id", pl.String(), "customer id"),
    Column("kind", pl.String(), "at_risk / upsell_ready"),
    Column("flagged_on", pl.Date(), "run date the earliest open rule flagged the customer"),
    Column("rules", pl.String(), "every open rule, ', '-separated"),
    Column("reasons", pl.String(), "their reason texts with evidence, '; '-separated"),
    *_EVIDENCE,
    Column(
        "explanation",
        pl.String(),
        "score change by event type, e.g. '-24: 12 fewer login (-12), ...'",
        True,
    ),
)
"""The full current flag table: one row per flagged customer x kind."""

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
    Column("action", pl.String(), "new / changed / resolved"),
    Column("customer_id", pl.String(), "customer id"),
    Column("kind", pl.String(), "at_risk / upsell_ready"),
    Column("flagged_on", pl.Date(), "run date the flag started"),
    Column("rules", pl.String(), "open rules now (null when resolved)", True),
    Column("previous_rules", pl.String(), "open rules at the previous run (null when new)", True),
    Column("reasons", pl.String(), "reason texts with evidence, '; '-separated"),
    Column("message", pl.String(), "Slack-style text of the action"),
    *_EVIDENCE,
    Column("explanation", pl.String(), "score change by event type", True),
)
"""Only what changed since the previous run: what downstream CRMs consume."""
