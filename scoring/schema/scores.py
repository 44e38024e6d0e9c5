"""The contracts of the scoring outputs: scores, contributions, quarantine, score history."""

import polars as pl

from scoring.schema.columns import UTC_TIMESTAMP, Column
from scoring.schema.inputs import SOURCE_FILE, SOURCE_ROW

TIERS: tuple[str, ...] = (
    "churn_risk", "very_disengaged", "somewhat_engaged", "highly_engaged", "power_user",
)  # fmt: skip
"""The tiers, from the lowest scores to the highest (scoring.engagement.tier_of)."""
ENGAGED_TIERS: frozenset[str] = frozenset({"somewhat_engaged", "highly_engaged", "power_user"})
DISENGAGED_TIERS: frozenset[str] = frozenset({"churn_risk", "very_disengaged"})

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
