"""The evidence the follow-up rules read, per customer, and the routing columns that travel
with every flag: who owns the customer, its name and its value."""

from datetime import date

import polars as pl

from scoring.followup_config import Condition, FollowupsConfig, ScoreDrop, TierFell, UsageNearLimit
from scoring.history import metric_snapshot, score_deltas

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

ROUTING: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "account_owner": pl.String(),
    "customer_name": pl.String(),
    "value": pl.Float64(),
}
"""Who to route a flag to and what the customer is worth (null where the table lacks it)."""


def followup_evidence(
    deltas: pl.LazyFrame,
    scores: pl.LazyFrame,
    run_date: date,
    metrics: pl.LazyFrame | None = None,
    customers: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Per scored customer, the EVIDENCE columns: deltas versus the previous run,
    days_inactive = run_date - date of the last event, the metric snapshot (null without a
    metrics table) and the plan (null without a customers table or its plan column)."""
    no_plans = pl.LazyFrame(schema={"customer_id": pl.String(), "plan": pl.String()})
    plans = (
        no_plans
        if customers is None or "plan" not in customers.collect_schema().names()
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


def customer_routing(customers: pl.LazyFrame | None, config: FollowupsConfig) -> pl.LazyFrame:
    """Per customer of the customers table: account_owner, customer_name (the columns named by
    `routing`) and value: the `value.column` as a number, else `value.plan_values[plan]`;
    null where the table has neither (no table: no rows)."""
    if customers is None:
        return pl.LazyFrame(schema=ROUTING)
    present = set(customers.collect_schema().names())

    def column(name: str | None, dtype: pl.DataType) -> pl.Expr:
        found = pl.col(name).cast(pl.String).cast(dtype, strict=False) if name in present else None
        return pl.lit(None, dtype) if found is None else found

    values = config.value
    by_plan = column("plan", pl.String()).replace_strict(
        list(values.plan_values),
        list(values.plan_values.values()),
        default=None,
        return_dtype=pl.Float64,
    )
    return customers.select(
        pl.col("customer_id").cast(pl.String),
        column(config.routing.owner_column, pl.String()).alias("account_owner"),
        column(config.routing.name_column, pl.String()).alias("customer_name"),
        pl.coalesce(column(values.column, pl.Float64()), by_plan).alias("value"),
    ).sort("customer_id")


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


def comparison_days(config: FollowupsConfig) -> list[int]:
    """The distinct `days_ago` the rules compare with (their snapshots are needed)."""
    return sorted({days for rule in config.rules if (days := compared_days_ago(rule.when))})


def compared_evidence(evidence: pl.LazyFrame, earlier: pl.LazyFrame | None) -> pl.LazyFrame:
    """The evidence with previous_score, previous_tier, score_delta and score_delta_pct taken
    against another snapshot (e.g. N days ago; None: no such run, so they are null)."""
    deltas = score_deltas(evidence.select("customer_id", "score", "tier"), earlier)
    return evidence.drop("previous_score", "previous_tier", "score_delta", "score_delta_pct").join(
        deltas.drop("score", "tier"), on="customer_id", how="left"
    )
