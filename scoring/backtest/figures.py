"""Backtest figures (higher score = less churn), over observations with a score and a churn
label, pooled over any grouping (weights, period, date, segment…):

- ROC AUC = P(score of a retained customer > score of a churned one) + 1/2 P(equal scores),
  the Mann-Whitney statistic: (R - n_r (n_r + 1) / 2) / (n_r x n_c) with R the sum of the
  average ranks (ascending score) of the n_r retained customers, n_c churned ones;
- churn rate per tier = churned / customers in the tier; base rate = churned / customers;
  lift = tier churn rate / base rate (above 1: the tier churns more than average).
"""

from collections.abc import Sequence

import polars as pl

from scoring.schema import TIERS


def _grouped(observations: pl.LazyFrame, by: Sequence[str]) -> tuple[pl.LazyFrame, list[str]]:
    """Frames grouped by nothing get a constant key so `.over` and joins work the same way."""
    if by:
        return observations, list(by)
    return observations.with_columns(pl.lit(True).alias("_all")), ["_all"]


def roc_auc(observations: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """ROC AUC of the score against retention per group (Mann-Whitney, ties count 1/2).

    AUC = (R - n_r (n_r + 1) / 2) / (n_r x n_c), R = sum of the average ascending ranks of the
    scores of the n_r retained customers, n_c churned ones; null when a class is empty.
    Columns: *by, customers, churned, churn_rate, auc.
    """
    frame, keys = _grouped(observations, by)
    retained = ~pl.col("churned")
    n_retained = retained.sum().cast(pl.Float64)
    n_churned = pl.col("churned").sum().cast(pl.Float64)
    rank_sum = pl.col("rank").filter(retained).sum()
    auc = (rank_sum - n_retained * (n_retained + 1) / 2) / (n_retained * n_churned)
    return (
        frame.with_columns(pl.col("score").rank("average").over(keys).alias("rank"))
        .group_by(keys)
        .agg(
            pl.len().cast(pl.Int64).alias("customers"),
            pl.col("churned").sum().cast(pl.Int64).alias("churned"),
            pl.when((n_retained > 0) & (n_churned > 0)).then(auc).otherwise(None).alias("auc"),
        )
        .with_columns((pl.col("churned") / pl.col("customers")).alias("churn_rate"))
        .sort(keys)
        .select(*by, "customers", "churned", "churn_rate", "auc")
    )


def roc_curve(observations: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """ROC points per group, one per distinct score from the highest down: a customer is
    predicted to stay when its score >= threshold; tpr = share of retained customers predicted
    to stay, fpr = share of churned ones. Columns: *by, threshold, fpr, tpr.
    """
    frame, keys = _grouped(observations, by)
    return (
        frame.group_by(*keys, "score")
        .agg(
            (~pl.col("churned")).sum().alias("retained_at"),
            pl.col("churned").sum().alias("churned_at"),
        )
        .sort(*keys, "score", descending=[False] * len(keys) + [True])
        .with_columns(
            (
                pl.col("retained_at").cum_sum().over(keys) / pl.col("retained_at").sum().over(keys)
            ).alias("tpr"),
            (
                pl.col("churned_at").cum_sum().over(keys) / pl.col("churned_at").sum().over(keys)
            ).alias("fpr"),
        )
        .select(*by, pl.col("score").alias("threshold"), "fpr", "tpr")
    )


def tier_churn(observations: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Per group and tier (every tier listed): customers, share of the group, churned, churn
    rate, the group's base churn rate and lift = churn rate / base rate (null when undefined).
    Columns: *by, tier, customers, share, churned, churn_rate, base_churn_rate, lift.
    """
    frame, keys = _grouped(observations, by)
    tiers = pl.LazyFrame({"tier": list(TIERS), "tier_order": list(range(len(TIERS)))})
    groups = frame.group_by(keys).agg(
        pl.len().alias("group_customers"),
        pl.col("churned").sum().alias("group_churned"),
    )
    counts = frame.group_by(*keys, "tier").agg(
        pl.len().alias("customers"), pl.col("churned").sum().alias("churned")
    )
    churn_rate = pl.col("churned") / pl.col("customers")
    base_rate = pl.col("group_churned") / pl.col("group_customers")
    return (
        groups.join(tiers, how="cross")
        .join(counts, on=[*keys, "tier"], how="left")
        .with_columns(
            pl.col("customers").fill_null(0).cast(pl.Int64),
            pl.col("churned").fill_null(0).cast(pl.Int64),
        )
        .with_columns(
            (pl.col("customers") / pl.col("group_customers")).alias("share"),
            pl.when(pl.col("customers") > 0).then(churn_rate).alias("churn_rate"),
            base_rate.alias("base_churn_rate"),
        )
        .with_columns(
            pl.when(pl.col("base_churn_rate") > 0)
            .then(pl.col("churn_rate") / pl.col("base_churn_rate"))
            .alias("lift")
        )
        .sort(*keys, "tier_order")
        .select(
            *by, "tier", "customers", "share", "churned", "churn_rate", "base_churn_rate", "lift"
        )
    )


def with_all_period(observations: pl.LazyFrame) -> pl.LazyFrame:
    """The observations twice: as they are and with period `all` (pooled over every date)."""
    return pl.concat([observations, observations.with_columns(pl.lit("all").alias("period"))])


def column_aucs(observations: pl.LazyFrame, columns: Sequence[str]) -> pl.LazyFrame:
    """roc_auc of each score column of the same observations (one row, a column each): the
    Mann-Whitney formula of roc_auc over every column at once, without reshaping."""
    retained = ~pl.col("churned")
    n_retained = retained.sum().cast(pl.Float64)
    n_churned = pl.col("churned").sum().cast(pl.Float64)

    def auc(column: str) -> pl.Expr:
        rank_sum = pl.col(column).rank("average").filter(retained).sum()
        value = (rank_sum - n_retained * (n_retained + 1) / 2) / (n_retained * n_churned)
        return pl.when((n_retained > 0) & (n_churned > 0)).then(value).alias(column)

    return observations.select(auc(column) for column in columns)
