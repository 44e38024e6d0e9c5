"""Value: purchases, revenue, average order value and customer lifetime value (CLV)."""

from datetime import timedelta

import polars as pl

from scoring.config import MetricsConfig
from scoring.engagement import Window
from scoring.metrics.rates import exact_sum, flag, ratio, when_possible
from scoring.schema import UTC_TIMESTAMP

DAYS_PER_YEAR = 365


def valued_purchase(window: Window, config: MetricsConfig) -> pl.Expr:
    """Whether an event is a purchase with an amount in the `clv_lookback_days` days ending on
    the run date (`window.end`)."""
    lookback_start = window.end - timedelta(days=config.clv_lookback_days)
    return (
        (pl.col("event_type") == config.purchase_event)
        & pl.col("amount").is_not_null()
        & (pl.col("occurred_at") >= pl.lit(lookback_start, dtype=UTC_TIMESTAMP))
    )


def purchase_totals(purchase: pl.Expr) -> list[pl.Expr]:
    """Aggregations of a customer's event-type totals (scoring.aggregates.EVENT_TYPE_TOTALS):
    purchases (its valued purchases, see valued_purchase) and revenue (the sum of their
    amounts). Purchases without an amount cannot be valued and are left out. `purchase`: the
    totals' purchase rows (scoring.aggregates.of_types; constants when it is rates.NEVER)."""
    return [
        when_possible(
            purchase,
            pl.col("valued_purchases").sum().cast(pl.Int64),
            pl.lit(0, dtype=pl.Int64),
        ).alias("purchases"),
        when_possible(purchase, exact_sum(pl.col("purchase_amount")), pl.lit(0.0)).alias("revenue"),
    ]


def purchaser(purchases: pl.Expr) -> pl.Expr:
    """1 when the customer made a valued purchase in the CLV lookback (purchases > 0), else 0."""
    return flag(purchases > 0)


def average_order_value(revenue: pl.Expr, purchases: pl.Expr) -> pl.Expr:
    """Revenue / purchases."""
    return ratio(revenue, purchases)


def customer_lifetime_value(
    revenue: pl.Expr, purchases: pl.Expr, purchasers: pl.Expr, config: MetricsConfig
) -> pl.Expr:
    """CLV = average order value x purchases per year per purchasing customer x lifespan years,
    with purchases per year = purchases / purchasers x 365 / clv_lookback_days.
    20 x 12 x 3 -> 720."""
    per_year = ratio(purchases, purchasers) * (DAYS_PER_YEAR / config.clv_lookback_days)
    return average_order_value(revenue, purchases) * per_year * config.customer_lifespan_years
