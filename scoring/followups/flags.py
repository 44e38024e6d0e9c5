"""One flag per customer per run: the customer's open rules grouped by kind, the first kind in
the precedence wins, the other kinds' rules and reasons become the flag's context."""

from collections.abc import Sequence

import polars as pl

FLAG_KEYS = ["customer_id", "kind"]
KIND_FLAGS: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "kind": pl.String(),
    "flagged_on": pl.Date(),
    "raised_on": pl.Date(),
    "rules": pl.String(),
    "reasons": pl.String(),
    "strength": pl.Float64(),
}


def kind_flags(enrolments: pl.LazyFrame, matches: pl.LazyFrame) -> pl.LazyFrame:
    """One row per customer x kind with at least one open rule: flagged_on (earliest open
    enrolment), raised_on (latest open enrolment: a rule that fired since refreshes the flag),
    rules (", "-joined), reasons ("; "-joined, same order) and
    strength = sum of the open rules' margins (rules.condition_margin)."""
    return (
        enrolments.filter(pl.col("status") == "open")
        .join(
            matches.select("customer_id", "rule", "reason", "margin"),
            on=["customer_id", "rule"],
            how="left",
        )
        .sort("customer_id", "kind", "rule")
        .group_by(FLAG_KEYS, maintain_order=True)
        .agg(
            pl.col("flagged_on").min(),
            pl.col("flagged_on").max().alias("raised_on"),
            pl.col("rule").str.join(", ").alias("rules"),
            pl.col("reason").str.join("; ").alias("reasons"),
            pl.col("margin").fill_null(1.0).sum().round(6).alias("strength"),
        )
        .select([pl.col(name).cast(dtype) for name, dtype in KIND_FLAGS.items()])
    )


def current_flags(
    enrolments: pl.LazyFrame,
    matches: pl.LazyFrame,
    evidence: pl.LazyFrame,
    explanations: pl.LazyFrame,
    precedence: Sequence[str] = ("at_risk", "upsell_ready"),
) -> pl.LazyFrame:
    """One flag per customer with an open rule: the kind_flags row of the first kind in
    `precedence`, with context = the other kinds that hold, as text
    ("also upsell_ready (power_user): power user (score 150)"), the evidence and the
    explanation of the score change."""
    order = pl.col("kind").replace_strict(
        list(precedence), list(range(len(precedence))), return_dtype=pl.Int64
    )
    suppressed = pl.format("also {} ({}): {}", pl.col("kind"), pl.col("rules"), pl.col("reasons"))
    return (
        kind_flags(enrolments, matches)
        .with_columns(order.alias("order"))
        .sort("customer_id", "order")
        .group_by("customer_id", maintain_order=True)
        .agg(
            pl.exclude("order").first(),
            suppressed.slice(1).str.join(" / ").alias("context"),
        )
        .with_columns(pl.when(pl.col("context") != "").then(pl.col("context")).alias("context"))
        .join(evidence, on="customer_id", how="left")
        .join(explanations, on="customer_id", how="left")
        .sort(FLAG_KEYS)
    )
