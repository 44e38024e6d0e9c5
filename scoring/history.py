"""Score history and why a score changed.

Every run appends one snapshot row per customer (score, tier, metric snapshot) to the history;
deltas compare two snapshots. The change of a customer's score between two run dates is
decomposed exactly by event type:

    score_today - score_before = sum over event types t of
                                 (contribution_today_t - contribution_before_t)

(exact up to the 1e-9 rounding of every score).
"""

import polars as pl

from scoring.engagement import SCORE_DECIMALS
from scoring.schema import TIERS

METRIC_SNAPSHOT: dict[str, pl.DataType] = {
    "nps_response": pl.Float64(),
    "effort_score": pl.Float64(),
    "csat": pl.Float64(),
    "features_used": pl.Int64(),
    "feature_adoption_pct": pl.Float64(),
}
"""Columns of the customer metrics kept in the history (null when no metrics table)."""


def metric_snapshot(metrics: pl.LazyFrame | None) -> pl.LazyFrame:
    """customer_id and the METRIC_SNAPSHOT columns of a customer metrics table (empty if none);
    metric columns the table lacks are null."""
    if metrics is None:
        return pl.LazyFrame(schema={"customer_id": pl.String(), **METRIC_SNAPSHOT})
    present = set(metrics.collect_schema().names())
    return metrics.select(
        pl.col("customer_id").cast(pl.String),
        *[
            (pl.col(name) if name in present else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in METRIC_SNAPSHOT.items()
        ],
    )


def score_snapshot(scores: pl.LazyFrame, metrics: pl.LazyFrame | None) -> pl.LazyFrame:
    """One history row per scored customer: score, tier, event_count, last_event_at and the
    metric snapshot (null where the customer has no metrics)."""
    return (
        scores.select("customer_id", "score", "tier", "event_count", "last_event_at")
        .join(metric_snapshot(metrics), on="customer_id", how="left")
        .sort("customer_id")
    )


def tier_rank(tier: pl.Expr) -> pl.Expr:
    """0 for churn_risk up to 4 for power_user."""
    return tier.replace_strict(list(TIERS), list(range(len(TIERS))), return_dtype=pl.Int64)


def score_deltas(today: pl.LazyFrame, before: pl.LazyFrame | None) -> pl.LazyFrame:
    """Per customer of `today`: score, tier, previous_score, previous_tier,
    score_delta = score - previous_score and score_delta_pct = 100 x delta / |previous_score|.

    `before` is an earlier snapshot (the previous run, or N days ago); customers absent from
    it have null previous values, and the percentage is null when the previous score is 0.
    """
    earlier = (
        pl.LazyFrame(
            schema={"customer_id": pl.String(), "score": pl.Float64(), "tier": pl.String()}
        )
        if before is None
        else before
    ).select(
        "customer_id",
        pl.col("score").alias("previous_score"),
        pl.col("tier").alias("previous_tier"),
    )
    delta = (pl.col("score") - pl.col("previous_score")).round(SCORE_DECIMALS)
    return (
        today.select("customer_id", "score", "tier")
        .join(earlier, on="customer_id", how="left")
        .with_columns(delta.alias("score_delta"))
        .with_columns(
            pl.when(pl.col("previous_score") != 0)
            .then((pl.col("score_delta") * 100 / pl.col("previous_score").abs()).round(6))
            .alias("score_delta_pct")
        )
        .sort("customer_id")
    )


def delta_by_event_type(today: pl.LazyFrame, before: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer and event type whose count or contribution changed between two runs'
    contributions: count_today, count_before, count_change, contribution_today,
    contribution_before, contribution_change (a missing side counts 0).

    For every customer, sum(contribution_change) = score_today - score_before.
    """
    keys = ["customer_id", "event_type"]
    return (
        today.select(*keys, "count", "contribution")
        .join(
            before.select(*keys, "count", "contribution"),
            on=keys,
            how="full",
            coalesce=True,
            suffix="_before",
        )
        .select(
            *keys,
            pl.col("count").fill_null(0).alias("count_today"),
            pl.col("count_before").fill_null(0),
            pl.col("contribution").fill_null(0.0).alias("contribution_today"),
            pl.col("contribution_before").fill_null(0.0),
        )
        .with_columns(
            (pl.col("count_today") - pl.col("count_before")).alias("count_change"),
            (pl.col("contribution_today") - pl.col("contribution_before"))
            .round(SCORE_DECIMALS)
            .alias("contribution_change"),
        )
        .filter((pl.col("count_change") != 0) | (pl.col("contribution_change") != 0))
        .select(
            *keys,
            "count_today",
            "count_before",
            "count_change",
            "contribution_today",
            "contribution_before",
            "contribution_change",
        )
        .sort(keys)
    )


def number_text(value: pl.Expr) -> pl.Expr:
    """A number as short text: at most 2 decimals, no trailing `.0` (24.0 -> "24")."""
    return value.round(2).cast(pl.String).str.replace(r"\.0$", "")


def signed_text(value: pl.Expr) -> pl.Expr:
    """A number with its sign: "+8", "-20", "0"."""
    text = number_text(value)
    return pl.when(value.round(2) > 0).then(pl.concat_str(pl.lit("+"), text)).otherwise(text)


def change_explanations(decomposition: pl.LazyFrame, deltas: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer with a previous score: customer_id, explanation, e.g.
    "-24: 12 fewer login (-12), 1 more app_uninstalled (-20), 2 more invite_sent (+8)",
    parts ordered by the size of their change (largest first), then by event type.
    """
    part = (
        pl.when(pl.col("count_change") > 0)
        .then(pl.format("{} more {}", pl.col("count_change"), pl.col("event_type")))
        .when(pl.col("count_change") < 0)
        .then(pl.format("{} fewer {}", -pl.col("count_change"), pl.col("event_type")))
        .otherwise(pl.format("{} decayed", pl.col("event_type")))
    )
    parts = (
        decomposition.with_columns(
            pl.format("{} ({})", part, signed_text(pl.col("contribution_change"))).alias("part"),
            pl.col("contribution_change").abs().alias("size"),
        )
        .sort(["customer_id", "size", "event_type"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .agg(pl.col("part").str.join(", ").alias("parts"))
    )
    header = signed_text(pl.col("score_delta"))
    return (
        deltas.filter(pl.col("previous_score").is_not_null())
        .join(parts, on="customer_id", how="left")
        .select(
            "customer_id",
            pl.when(pl.col("parts").is_null())
            .then(pl.format("{}: no change", header))
            .otherwise(pl.format("{}: {}", header, pl.col("parts")))
            .alias("explanation"),
        )
        .sort("customer_id")
    )


def explained_changes(
    customers: pl.LazyFrame, today: pl.LazyFrame, before: pl.LazyFrame, deltas: pl.LazyFrame
) -> pl.LazyFrame:
    """change_explanations of the `customers` (customer_id) alone, from two runs'
    contributions and the score_deltas: each input restricted to them first, as the text of
    every customer's change costs far more than the few that are read."""

    def of_customers(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.join(customers, on="customer_id", how="semi")

    decomposition = delta_by_event_type(of_customers(today), of_customers(before))
    return change_explanations(decomposition, of_customers(deltas))
