"""What changed since the previous run: per-customer score deltas, top movers, tier shifts."""

import polars as pl

from scoring.engagement import SCORE_DECIMALS
from scoring.schema import TIERS


def score_changes(current: pl.LazyFrame, previous: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer of the current scores: score, tier, previous_score, previous_tier and
    delta = score - previous_score (previous_* and delta null for a customer new since then).
    """
    before = previous.select(
        "customer_id",
        pl.col("score").alias("previous_score"),
        pl.col("tier").alias("previous_tier"),
    )
    return (
        current.select("customer_id", "score", "tier")
        .join(before, on="customer_id", how="left")
        .with_columns(
            (pl.col("score") - pl.col("previous_score")).round(SCORE_DECIMALS).alias("delta")
        )
        .sort("customer_id")
    )


def top_movers(changes: pl.LazyFrame, top: int) -> pl.LazyFrame:
    """The `top` customers whose score moved most (largest |delta|, ties by customer_id);
    unchanged and new customers are not movers."""
    return (
        changes.filter(pl.col("delta").is_not_null() & (pl.col("delta") != 0))
        .sort(pl.col("delta").abs(), pl.col("customer_id"), descending=[True, False])
        .head(top)
    )


def tier_shift(current: pl.LazyFrame, previous: pl.LazyFrame) -> pl.LazyFrame:
    """Customers and share per tier now and in the previous run (columns tier, customers,
    share, previous_customers, previous_share, change), every tier listed in tier order.

    Both inputs have columns tier, customers; a tier missing from an input counts 0.
    share = customers / all customers of that run (0 when the run scored nobody).
    """
    order = pl.LazyFrame({"tier": list(TIERS), "order": list(range(len(TIERS)))})
    before = previous.select("tier", pl.col("customers").alias("previous_customers"))
    counts = ("customers", "previous_customers")
    return (
        order.join(current.select("tier", "customers"), on="tier", how="left")
        .join(before, on="tier", how="left")
        .with_columns(pl.col(counts).fill_null(0).cast(pl.Int64))
        .with_columns(
            [
                pl.when(pl.col(name).sum() > 0)
                .then(pl.col(name) / pl.col(name).sum())
                .otherwise(0.0)
                .alias(share)
                for name, share in zip(counts, ("share", "previous_share"), strict=True)
            ]
        )
        .with_columns((pl.col("customers") - pl.col("previous_customers")).alias("change"))
        .sort("order")
        .select("tier", "customers", "share", "previous_customers", "previous_share", "change")
    )
