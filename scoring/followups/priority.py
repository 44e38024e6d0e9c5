"""Who to call first: every flag's priority_score and its rank.

    priority_score = strength x value_factor x freshness

- strength: the sum, over the flag's open rules, of each rule's margin past its threshold
  (rules.condition_margin, each in [1, 2]): stronger signals and more rules rank higher;
- value_factor = sqrt(value / median positive value of the customers table), clamped to
  [VALUE_FACTOR_MIN, VALUE_FACTOR_MAX]; exactly 1 when the customer's value is unknown or no
  customer has a positive value;
- freshness = 1 + 2 / (1 + age_days), age_days = run date - raised_on (the newest open rule's
  enrolment): 3 the day a flag (or a new reason) is raised, 2 a day later, 1.5 after three
  days, towards 1. A flag raised on the output's first run (the baseline) is of unknown age:
  freshness 1.

priority: 1 = act first, dense and unique: priority_score descending, then customer_id.
"""

from datetime import date

import polars as pl

VALUE_FACTOR_MIN = 0.5
VALUE_FACTOR_MAX = 2.0
SCORE_DECIMALS = 6


def value_factor(value: pl.Expr, median: pl.Expr) -> pl.Expr:
    """sqrt(value / median) clamped to [VALUE_FACTOR_MIN, VALUE_FACTOR_MAX]; 1 when either is
    null or the median is not positive."""
    known = value.is_not_null() & median.is_not_null() & (median > 0)
    damped = (value / median).sqrt().clip(VALUE_FACTOR_MIN, VALUE_FACTOR_MAX)
    return pl.when(known).then(damped).otherwise(pl.lit(1.0))


def freshness(raised_on: pl.Expr, run_date: date, baseline_date: date | None) -> pl.Expr:
    """1 + 2 / (1 + run_date - raised_on in days): 3 on the day a flag is raised, decaying
    towards 1; 1 for a flag raised on `baseline_date` (the first run: its age is unknown)."""
    age_days = (pl.lit(run_date) - raised_on).dt.total_days().clip(lower_bound=0)
    unknown_age = raised_on <= baseline_date if baseline_date is not None else pl.lit(False)
    return pl.when(unknown_age).then(pl.lit(1.0)).otherwise(1 + 2 / (1 + age_days))


def prioritized_flags(
    flags: pl.LazyFrame, routing: pl.LazyFrame, run_date: date, baseline_date: date | None = None
) -> pl.LazyFrame:
    """The flags (one per customer, with strength and raised_on) with the routing columns
    (account_owner, customer_name, value), value_factor, freshness, priority_score and
    priority, sorted by priority. `baseline_date`: the output's first run date."""
    positive = pl.col("value").filter(pl.col("value") > 0)
    customers = routing.with_columns(positive.median().alias("median_value"))
    return (
        flags.join(customers, on="customer_id", how="left")
        .with_columns(
            value_factor(pl.col("value"), pl.col("median_value"))
            .round(SCORE_DECIMALS)
            .alias("value_factor"),
            freshness(pl.col("raised_on"), run_date, baseline_date)
            .round(SCORE_DECIMALS)
            .alias("freshness"),
        )
        .with_columns(
            (pl.col("strength") * pl.col("value_factor") * pl.col("freshness"))
            .round(SCORE_DECIMALS)
            .alias("priority_score")
        )
        .sort(["priority_score", "customer_id"], descending=[True, False])
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("priority"))
        .drop("median_value")
    )
