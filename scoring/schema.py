"""The data contracts: event input and every output table, as column name -> Polars dtype.

This module is the single source of truth. Readers (tasks/extract/files.py), the validation
suite (tasks/quality/validate.py), the Parquet writer (tasks/publish/write.py) and the README
tables are all derived from it.
"""

from dataclasses import dataclass

import polars as pl

UTC_TIMESTAMP = pl.Datetime("us", "UTC")

OUTPUT_SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class Column:
    """One column of a contract: its name, dtype, whether it may be null, and what it means."""

    name: str
    dtype: pl.DataType
    description: str
    nullable: bool = False
    allowed: tuple[str, ...] = ()
    """The only values the column may hold (empty: any value)."""


# The four columns every event must have. Anything else in the input is kept but not scored.
REQUIRED_EVENT_COLUMNS: tuple[Column, ...] = (
    Column("event_id", pl.String(), "unique id of the event; duplicates count once"),
    Column("customer_id", pl.String(), "the customer (account) the event belongs to"),
    Column("event_type", pl.String(), "what happened; weighted by the configuration"),
    Column(
        "occurred_at",
        UTC_TIMESTAMP,
        "when it happened: ISO 8601 with offset or Z in text inputs; naive means UTC",
    ),
)

# Optional typed event properties used by the metric panel; absent columns are null.
OPTIONAL_EVENT_COLUMNS: tuple[Column, ...] = (
    Column("value", pl.Float64(), "numeric answer of a survey (NPS 0-10, CSAT 1-5, effort)", True),
    Column("session_id", pl.String(), "web/app session of a page view", True),
    Column("page", pl.String(), "page path of a page view", True),
    Column("duration_s", pl.Float64(), "seconds spent on the page / in the session", True),
    Column("scroll_pct", pl.Float64(), "share of the page scrolled, 0-100", True),
    Column("amount", pl.Float64(), "order value of a purchase", True),
    Column("feature", pl.String(), "product feature used", True),
)

EVENT_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in REQUIRED_EVENT_COLUMNS)

# Where a row came from, added by the readers so quarantine can point at it.
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"

TIERS: tuple[str, ...] = (
    "churn_risk",
    "very_disengaged",
    "somewhat_engaged",
    "highly_engaged",
    "power_user",
)

SCORES: tuple[Column, ...] = (
    Column("customer_id", pl.String(), "customer id"),
    Column("score", pl.Float64(), "CES = sum over event types of weight x count in the window"),
    Column(
        "tier",
        pl.String(),
        "churn_risk / very_disengaged / somewhat_engaged / highly_engaged / power_user",
        allowed=TIERS,
    ),
    Column("event_count", pl.Int64(), "valid, de-duplicated events of any type in the window"),
    Column(
        "last_event_at",
        UTC_TIMESTAMP,
        "latest valid event at or before the end of the run date (may be before the window)",
    ),
)

CONTRIBUTIONS: tuple[Column, ...] = (
    Column("customer_id", pl.String(), "customer id"),
    Column("event_type", pl.String(), "a weighted event type seen in the window"),
    Column("count", pl.Int64(), "occurrences in the window"),
    Column("weight", pl.Float64(), "configured weight of the event type"),
    Column(
        "contribution",
        pl.Float64(),
        "weight x count (x decay when half_life_days is set); sums to the score",
    ),
)

QUARANTINE_FIXED: tuple[Column, ...] = (
    Column(SOURCE_FILE, pl.String(), "input file the row came from"),
    Column(SOURCE_ROW, pl.Int64(), "1-based data row (record) number within that file"),
    Column("reason", pl.String(), "every rule the row failed, separated by '; '"),
    Column(
        "failed_expectations",
        pl.String(),
        "the Great Expectations expectation(s) behind the reasons, separated by '; '",
    ),
    Column(
        "run_id",
        pl.String(),
        "the run that quarantined the row: digest of its events and config (manifest run_id)",
        True,
    ),
)
"""Quarantine rows carry these plus every raw input column, as text (nothing is lost)."""

SCORE_HISTORY: tuple[Column, ...] = (
    *SCORES,
    Column("nps_response", pl.Float64(), "latest NPS answer (0-10) in the window", True),
    Column(
        "effort_score", pl.Float64(), "mean effort answer in the window (lower is better)", True
    ),
    Column("csat", pl.Float64(), "CSAT % in the window", True),
    Column("features_used", pl.Int64(), "distinct features used in the window", True),
    Column("feature_adoption_pct", pl.Float64(), "share of the product's features used, %", True),
)
"""One row per customer and run date; the metric snapshot is null without customer metrics."""

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

ENGAGED_TIERS: frozenset[str] = frozenset({"somewhat_engaged", "highly_engaged", "power_user"})
DISENGAGED_TIERS: frozenset[str] = frozenset({"churn_risk", "very_disengaged"})

CUSTOMER_METRICS: tuple[Column, ...] = (
    Column("customer_id", pl.String(), "customer id (one row per customer of the scores table)"),
    Column("score", pl.Float64(), "the CES, as in scores"),
    Column("tier", pl.String(), "the absolute tier, as in scores"),
    Column(
        "score_previous",
        pl.Float64(),
        "CES of the previous period: the window ending window_days "
        "before the run date; null when the customer was not seen by then",
        True,
    ),
    Column(
        "score_change", pl.Float64(), "score - score_previous; null when score_previous is", True
    ),
    Column(
        "responding",
        pl.Boolean(),
        "score > score_previous (a customer not seen in the previous period counts from 0)",
    ),
    Column(
        "segment",
        pl.String(),
        "the customer's value of metrics.percentile_segment (default plan); "
        "null when unknown or not configured",
        True,
    ),
    Column(
        "score_percentile",
        pl.Float64(),
        "% of the customers of the same segment value whose score is "
        "<= this one's (rank max / customers x 100; top = 100)",
    ),
    Column(
        "csat_responses", pl.Int64(), "CSAT answers on the scale (1..csat_scale_max) in the window"
    ),
    Column("csat", pl.Float64(), "answers >= csat_satisfied_min (4) / csat_responses x 100", True),
    Column("nps_responses", pl.Int64(), "NPS answers (0-10) in the window"),
    Column(
        "nps", pl.Float64(), "% of the customer's NPS answers 9-10 - % 0-6 (in [-100, 100])", True
    ),
    Column("nps_response", pl.Float64(), "the latest NPS answer (0-10) in the window", True),
    Column(
        "nps_category",
        pl.String(),
        "promoter (9-10) / passive (7-8) / detractor (0-6) of nps_response",
        True,
    ),
    Column("effort_responses", pl.Int64(), "effort answers (1..effort_scale) in the window"),
    Column("effort_score", pl.Float64(), "mean effort answer (lower is better)", True),
    Column("page_views", pl.Int64(), "page views in the window"),
    Column("sessions", pl.Int64(), "sessions (distinct session_id) with a page view in the window"),
    Column("pages_per_session", pl.Float64(), "page views in sessions / sessions", True),
    Column(
        "avg_time_on_page_s", pl.Float64(), "mean duration_s of the page views that have one", True
    ),
    Column(
        "avg_session_duration_s",
        pl.Float64(),
        "mean over sessions of the sum of their page views' duration_s",
        True,
    ),
    Column(
        "bounce_rate",
        pl.Float64(),
        "sessions with one page view and no other event of the session "
        "(except the session start) / sessions x 100",
        True,
    ),
    Column("scroll_depth", pl.Float64(), "mean scroll_pct of the page views that have one", True),
    Column(
        "visitor_type",
        pl.String(),
        "new (first page view ever in the window) / returning (an "
        "earlier one) / null (no page view in the window)",
        True,
    ),
    Column("email_opens", pl.Int64(), "email opens in the window"),
    Column("email_clicks", pl.Int64(), "email clicks in the window"),
    Column(
        "ctr",
        pl.Float64(),
        "email_clicks / email_opens x 100 (may exceed 100 if opens go untracked)",
        True,
    ),
    Column("impressions", pl.Int64(), "social/ad impressions in the window"),
    Column(
        "social_engagements", pl.Int64(), "likes, shares, saves, comments, mentions in the window"
    ),
    Column("social_engagement_rate", pl.Float64(), "social_engagements / impressions x 100", True),
    Column(
        "conversions", pl.Int64(), "conversion events (metrics.conversion_events) in the window"
    ),
    Column("conversion_rate", pl.Float64(), "conversions / sessions x 100", True),
    Column("event_registrations", pl.Int64(), "offline event registrations in the window"),
    Column("active_days", pl.Int64(), "distinct UTC days in the window with an active event"),
    Column(
        "stickiness",
        pl.Float64(),
        "DAU/MAU for one customer: active_days / window_days x 100; null when not active",
        True,
    ),
    Column(
        "paying",
        pl.Boolean(),
        "plan (metrics.plan_column) in metrics.paying_plans, or plan unknown",
    ),
    Column(
        "at_period_start",
        pl.Boolean(),
        "seen (event or signup) before the window and not cancelled "
        "before it: counts in the churn rate's denominator",
    ),
    Column("churned", pl.Boolean(), "a cancellation event in the window"),
    Column("app_installs", pl.Int64(), "app installs in the window"),
    Column("app_uninstalls", pl.Int64(), "app uninstalls in the window"),
    Column(
        "app_status",
        pl.String(),
        "kept / deleted: the latest install or uninstall at or before the "
        "run date (at one instant: the later event id); null when neither",
        True,
    ),
    Column(
        "purchases",
        pl.Int64(),
        "purchases with an amount in the clv_lookback_days (365) days ending on the run date",
    ),
    Column("revenue", pl.Float64(), "sum of their amounts (0 without purchases)"),
    Column("average_order_value", pl.Float64(), "revenue / purchases", True),
    Column(
        "clv",
        pl.Float64(),
        "average_order_value x purchases x 365 / clv_lookback_days x customer_lifespan_years",
        True,
    ),
    Column(
        "signup_date",
        pl.Date(),
        "UTC date of the first signup event, else the customers table's signup_date",
        True,
    ),
    Column(
        "first_week_score",
        pl.Float64(),
        "sum of weight x count over the events of the signup date "
        "and the 6 days after; null unless signed up in the window with that week over",
        True,
    ),
    Column("first_week_events", pl.Int64(), "events in that first week (0 when out of scope)"),
    Column("features_used", pl.Int64(), "distinct features used in the window (0 when none)"),
    Column(
        "feature_adoption_pct",
        pl.Float64(),
        "features_used / feature catalogue size x 100 "
        "(catalogue: metrics.features, else every feature used in the window)",
        True,
    ),
    Column("support_tickets", pl.Int64(), "support tickets in the window"),
    Column("escalations", pl.Int64(), "support escalations in the window"),
    Column(
        "health_engagement", pl.Float64(), "clip(score / engagement_full_score (100) x 100, 0, 100)"
    ),
    Column(
        "health_satisfaction",
        pl.Float64(),
        "mean of csat, nps_response x 10 and (effort_scale - "
        "effort_score) / (effort_scale - 1) x 100 that are present",
        True,
    ),
    Column("health_support", pl.Float64(), "max(0, 100 - 10 x support_tickets - 25 x escalations)"),
    Column(
        "health_billing",
        pl.Float64(),
        "max(0, 100 - billing penalties: 100 per cancellation, 50 per downgrade)",
    ),
    Column(
        "health_score",
        pl.Float64(),
        "sum of w x component / sum of w over the components present; "
        "weights per health.segment value or default 0.4/0.3/0.15/0.15",
        True,
    ),
)

SEGMENT_METRICS: tuple[Column, ...] = (
    Column(
        "segment",
        pl.String(),
        "the attribute: all (the whole population), plan, persona, region, "
        "account_owner, signup_cohort, ...",
    ),
    Column(
        "segment_value",
        pl.String(),
        "the attribute's value (all for segment all; null = unknown)",
        True,
    ),
    Column("metric", pl.String(), "the metric's name (see the list below the table)"),
    Column("detail", pl.String(), "tier, page or feature for per-tier/page/feature metrics", True),
    Column(
        "value",
        pl.Float64(),
        "the metric over the segment's customers; null when its denominator is 0",
        True,
    ),
    Column(
        "observations",
        pl.Int64(),
        "what the value rests on: the denominator of a rate or mean, the counted items of a count",
    ),
    Column("customers", pl.Int64(), "customers in the segment value"),
)


def polars_schema(columns: tuple[Column, ...]) -> pl.Schema:
    """The Polars schema of a contract."""
    return pl.Schema({c.name: c.dtype for c in columns})


def arrow_type_name(dtype: pl.DataType) -> str:
    """The Arrow/Parquet name of a contract dtype, as readers of the files see it."""
    if isinstance(dtype, pl.Datetime):
        return f"timestamp[{dtype.time_unit}, tz={dtype.time_zone}]"
    names = {
        pl.String: "string",
        pl.Float64: "double",
        pl.Int64: "int64",
        pl.Boolean: "bool",
        pl.Date: "date32[day]",
    }
    return names.get(type(dtype), str(dtype).lower())


def markdown_table(columns: tuple[Column, ...]) -> str:
    """A README-ready table of a contract."""
    rows = ["| column | type | nullable | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{c.name}` | {arrow_type_name(c.dtype)} | {'yes' if c.nullable else 'no'} "
        f"| {c.description} |"
        for c in columns
    ]
    return "\n".join(rows)


OUTPUT_TABLES: dict[str, tuple[Column, ...]] = {
    "scores": SCORES,
    "contributions": CONTRIBUTIONS,
    "quarantine": QUARANTINE_FIXED,
    "score_history": SCORE_HISTORY,
    "flags": FLAGS,
    "flag_enrolments": FLAG_ENROLMENTS,
    "actions": ACTIONS,
    "customer_metrics": CUSTOMER_METRICS,
    "segment_metrics": SEGMENT_METRICS,
}
"""Every Parquet output table and its contract (README tables are generated from this)."""

OUTPUT_KEYS: dict[str, tuple[str, ...]] = {
    "scores": ("customer_id",),
    "contributions": ("customer_id", "event_type"),
    "customer_metrics": ("customer_id",),
    "score_history": ("customer_id",),
}
"""Columns whose values identify a row of an output table (unique together)."""


def readme_tables() -> str:
    """The README's schema section: the input contract and every output table."""
    sections = ["### Input events\n\n" + markdown_table(REQUIRED_EVENT_COLUMNS)]
    sections += ["### Optional event properties\n\n" + markdown_table(OPTIONAL_EVENT_COLUMNS)]
    sections += [
        f"### `{name}/run_date=YYYY-MM-DD/part-0.parquet`\n\n{markdown_table(columns)}"
        for name, columns in OUTPUT_TABLES.items()
    ]
    return "\n\n".join(sections)


if __name__ == "__main__":
    print(readme_tables())
