"""Backtest: does the score predict churn? Point-in-time scores, churn labels and figures.

For an observation date D (pure Polars, no I/O):

- a customer is **active** at D when it has any valid event in the scoring window ending on D;
- an active customer **churned** when it has no event in the `horizon_days` days after D
  (D+1 .. D+horizon, UTC), or when one of the configured churn event types occurs in them;
- its score is `customer_scores` on D: only events up to the end of D count.

Figures (higher score = less churn):

- ROC AUC = P(score of a retained customer > score of a churned one) + 1/2 P(equal scores),
  the Mann-Whitney statistic: (R - n_r (n_r + 1) / 2) / (n_r x n_c) with R the sum of the
  average ranks (ascending score) of the n_r retained customers, n_c churned ones;
- churn rate per tier = churned / customers in the tier; base rate = churned / customers;
  lift = tier churn rate / base rate (above 1: the tier churns more than average).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl

from scoring.config import ScoringConfig
from scoring.engagement import (
    OCCURRENCE_DECIMALS,
    Window,
    customer_scores,
    events_in_window,
    occurrence_weight,
)
from scoring.metrics.rates import exact_sum
from scoring.schema import TIERS, UTC_TIMESTAMP

OBSERVATION_DATE = "observation_date"


def observation_dates(start: date, end: date, every_days: int) -> list[date]:
    """start, start + every, ... up to end (inclusive)."""
    if every_days < 1:
        raise ValueError(f"every must be at least 1 day, got {every_days}")
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    count = (end - start).days // every_days + 1
    return [start + timedelta(days=every_days * i) for i in range(count)]


def dates_with_full_horizon(
    dates: Sequence[date], last_event_date: date, horizon: int
) -> list[date]:
    """The observation dates whose whole horizon (D+1 .. D+horizon) lies within the data."""
    return [d for d in dates if d + timedelta(days=horizon) <= last_event_date]


@dataclass(frozen=True)
class TimeSplit:
    """Observation dates split in time: fit on `train`, evaluate on `test`.

    Every training date's horizon ends on or before the first test date (D + horizon <= first
    test date), so no label used for fitting looks into the evaluation period; `gap` dates are
    neither (their horizon would overlap it).
    """

    train: tuple[date, ...]
    test: tuple[date, ...]
    gap: tuple[date, ...]

    def period_of(self, day: date) -> str:
        """train, test or gap."""
        return "train" if day in self.train else "test" if day in self.test else "gap"

    def label_overlap_days(self, horizon_days: int) -> int:
        """Days by which the last training date's horizon runs into the test period (0 = none)."""
        return max(0, (self.train[-1] + timedelta(days=horizon_days) - self.test[0]).days)


def time_split(dates: Sequence[date], horizon_days: int) -> TimeSplit | None:
    """The split with the most dates on its smaller side (ties: more training dates).

    The test period starts at one of the dates; the training dates are those whose horizon ends
    by then. None when no split has at least one date on each side.
    """
    ordered = sorted(set(dates))
    best: tuple[tuple[int, int], TimeSplit] | None = None
    for first_test in ordered[1:]:
        train = tuple(d for d in ordered if d + timedelta(days=horizon_days) <= first_test)
        test = tuple(d for d in ordered if d >= first_test)
        if not train or not test:
            continue
        rank = (min(len(train), len(test)), len(train))
        if best is None or rank > best[0]:
            gap = tuple(d for d in ordered if d not in train and d not in test)
            best = (rank, TimeSplit(train=train, test=test, gap=gap))
    return best[1] if best else None


def _day_end(day: date) -> datetime:
    return Window.ending_on(day, 1).end


def churn_labels(
    events: pl.LazyFrame,
    window_days: int,
    horizon_days: int,
    churn_event_types: Sequence[str],
    observation_date: date,
) -> pl.LazyFrame:
    """Customers active at the observation date (an event in its window) and whether they
    churned: no event in the next `horizon_days` days, or a churn event type in them.

    Columns: observation_date, customer_id, churned (bool); sorted by customer_id.
    """
    start = _day_end(observation_date)
    horizon_end = start + timedelta(days=horizon_days)
    in_horizon = (pl.col("occurred_at") >= pl.lit(start, dtype=UTC_TIMESTAMP)) & (
        pl.col("occurred_at") < pl.lit(horizon_end, dtype=UTC_TIMESTAMP)
    )
    active = (
        events_in_window(events, Window.ending_on(observation_date, window_days))
        .select("customer_id")
        .unique()
    )
    horizon = (
        events.filter(in_horizon)
        .group_by("customer_id")
        .agg(pl.col("event_type").is_in(list(churn_event_types)).any().alias("churn_event"))
    )
    return (
        active.join(horizon, on="customer_id", how="left")
        .select(
            pl.lit(observation_date).alias(OBSERVATION_DATE),
            "customer_id",
            (pl.col("churn_event").is_null() | pl.col("churn_event")).alias("churned"),
        )
        .sort("customer_id")
    )


def event_type_features(
    events: pl.LazyFrame, config: ScoringConfig, observation_date: date
) -> pl.LazyFrame:
    """Per customer and event type (every type, weighted or not) in the window ending on the
    observation date: `value` = the occurrences as the score counts them (the count, or the sum
    of 0.5 ** (age_days / half_life_days) with decay). So score = sum of weight x value.

    Columns: observation_date, customer_id, event_type, value; sorted.
    """
    window = Window.ending_on(observation_date, config.window_days)
    return (
        events_in_window(events, window)
        .with_columns(occurrence_weight(config, observation_date).alias("occurrence"))
        .group_by("customer_id", "event_type")
        .agg(exact_sum(pl.col("occurrence"), OCCURRENCE_DECIMALS).alias("value"))
        .select(
            pl.lit(observation_date).alias(OBSERVATION_DATE), "customer_id", "event_type", "value"
        )
        .sort("customer_id", "event_type")
    )


def labelled_scores(
    events: pl.LazyFrame, config: ScoringConfig, labels: pl.LazyFrame, observation_date: date
) -> pl.LazyFrame:
    """The point-in-time score and tier of every labelled (active) customer on its date.

    Columns: observation_date, customer_id, score, tier, churned.
    """
    scores = customer_scores(events, config, observation_date).select(
        "customer_id", "score", "tier"
    )
    return (
        labels.filter(pl.col(OBSERVATION_DATE) == observation_date)
        .join(scores, on="customer_id", how="left")
        .select(OBSERVATION_DATE, "customer_id", "score", "tier", "churned")
        .sort("customer_id")
    )


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
