"""Observations of a backtest: which customers are observed on which dates, and did they churn.

An observation is a (customer, observation date D) pair with a churn label, from one of:

- **silence** (no outside labels): the customers active on D (an event of any type in the
  configured scoring window ending on D) are observed; one churned when it has no event in the
  `horizon_days` days after D (D+1 .. D+horizon, UTC), or when one of the configured churn event
  types occurs in them. Only dates whose whole horizon lies within the data are used;
- **outside labels** (`--labels`): the given (customer_id, observation_date, churned) rows,
  whether or not the customer was active.

Either way, when a customer's observation ends (`observed_until`, from the labels or the
customers table) before its horizon does (D + horizon_days > observed_until), the
observation is dropped: the end of the observation is not churn. Dropped observations are
counted per date.

Everything is computed from the daily event counts (scoring.aggregates.DAILY_EVENT_COUNTS):
the rules only depend on an event's customer, type and UTC day.
"""

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from scoring.aggregates import EVENT_DATE

OBSERVATION_DATE = "observation_date"
OBSERVED_UNTIL = "observed_until"
OBSERVATIONS = pl.Schema(
    {OBSERVATION_DATE: pl.Date(), "customer_id": pl.String(), "churned": pl.Boolean()}
)
"""The columns of labelled observations."""


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


def days_between(daily: pl.LazyFrame, first: date, last: date) -> pl.LazyFrame:
    """The daily counts of the days first .. last (inclusive)."""
    return daily.filter(pl.col(EVENT_DATE).is_between(pl.lit(first), pl.lit(last)))


def churn_labels(
    daily: pl.LazyFrame,
    window_days: int,
    horizon_days: int,
    churn_event_types: Sequence[str],
    observation_date: date,
) -> pl.LazyFrame:
    """Silence labels of one date: the customers active on it (a daily count in the window of
    `window_days` days ending on it) and whether they churned (no daily count in the next
    `horizon_days` days, or a churn event type in them).

    Columns: OBSERVATIONS; sorted by customer_id.
    """
    window_start = observation_date - timedelta(days=window_days - 1)
    active = days_between(daily, window_start, observation_date).select("customer_id").unique()
    horizon = (
        days_between(
            daily,
            observation_date + timedelta(days=1),
            observation_date + timedelta(days=horizon_days),
        )
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


def silence_labels(
    daily: pl.LazyFrame,
    dates: Sequence[date],
    window_days: int,
    horizon_days: int,
    churn_event_types: Sequence[str],
) -> pl.LazyFrame:
    """churn_labels of every date, stacked in date order (an empty frame for no date)."""
    return pl.concat(
        [
            pl.LazyFrame(schema=OBSERVATIONS),
            *(
                churn_labels(daily, window_days, horizon_days, churn_event_types, day)
                for day in dates
            ),
        ]
    )


def outside_labels(labels: pl.LazyFrame, dates: Sequence[date]) -> pl.LazyFrame:
    """The outside labels (customer_id, observation_date, churned) of the observation dates,
    sorted by date and customer. Columns: OBSERVATIONS."""
    return (
        labels.filter(
            pl.col(OBSERVATION_DATE).is_in(pl.Series(list(dates), dtype=pl.Date).implode())
        )
        .select(list(OBSERVATIONS))
        .sort(OBSERVATION_DATE, "customer_id")
    )


def beyond_observation(horizon_days: int) -> pl.Expr:
    """Over observations with an `observed_until` date (null = observed to the end of the
    data): whether the horizon runs past it, D + horizon_days > observed_until."""
    horizon_end = pl.col(OBSERVATION_DATE) + pl.duration(days=horizon_days)
    return (horizon_end > pl.col(OBSERVED_UNTIL)).fill_null(False)


def dropped_per_date(observations: pl.LazyFrame, horizon_days: int) -> pl.LazyFrame:
    """Per observation date with any, how many observations (with their `observed_until`)
    run past the customer's observation end (beyond_observation): observation_date, dropped."""
    return (
        observations.filter(beyond_observation(horizon_days))
        .group_by(OBSERVATION_DATE)
        .agg(pl.len().cast(pl.Int64).alias("dropped"))
        .sort(OBSERVATION_DATE)
    )


def first_event_dates(daily: pl.LazyFrame) -> pl.LazyFrame:
    """Every customer's first event day: customer_id, first_event_date."""
    return daily.group_by("customer_id").agg(pl.col(EVENT_DATE).min().alias("first_event_date"))


def last_event_dates(daily: pl.LazyFrame, observations: pl.LazyFrame) -> pl.LazyFrame:
    """Per observation, the customer's latest event day on or before the observation date
    (null when none): observation_date, customer_id, last_event_date. An as-of join on the
    customers' event days, not a scan of each date's history."""
    days = (
        daily.select("customer_id", pl.col(EVENT_DATE).alias("last_event_date"))
        .unique()
        .sort("last_event_date")
    )
    return (
        observations.select(OBSERVATION_DATE, "customer_id")
        .sort(OBSERVATION_DATE)
        .join_asof(
            days,
            left_on=OBSERVATION_DATE,
            right_on="last_event_date",
            by="customer_id",
            strategy="backward",
            check_sortedness=False,  # sorted above; the check cannot see sortedness per customer
        )
        .select(OBSERVATION_DATE, "customer_id", "last_event_date")
    )


def without_history(observations: pl.LazyFrame, daily: pl.LazyFrame) -> pl.LazyFrame:
    """The observations whose customer has no event on or before the observation date (they
    score 0): observation_date, customer_id."""
    return (
        observations.select(OBSERVATION_DATE, "customer_id")
        .join(first_event_dates(daily), on="customer_id", how="left")
        .filter(~(pl.col("first_event_date") <= pl.col(OBSERVATION_DATE)).fill_null(False))
        .select(OBSERVATION_DATE, "customer_id")
    )
