"""Daily aggregates: per customer, event type and UTC day, how many events and the latest one.

Every scoring rule depends on an event only through its customer, its type and its UTC day
(the window is whole days; the decay's age is whole days), so the score of any window is a
function of these counts:

    CES = sum over event types t of  w_t x sum over window days d of  n_{t,d} x f(d)

with f(d) = 1, or 0.5 ** ((run_date - d) / half_life_days) with decay. A daily run therefore
keeps these counts (a few bytes per customer, type and day) instead of re-reading the raw
history, and any configuration (weights, tiers, window, half-life) is scored from them.
`last_event_at` per (customer, type, day) gives each customer's latest event at a run date.
"""

from collections.abc import Collection, Iterable, Sequence
from datetime import date, timedelta

import polars as pl

from scoring.config import ScoringConfig
from scoring.engagement import (
    OCCURRENCE_DECIMALS,
    SCORE_DECIMALS,
    Window,
    contribution,
    decay_by_age,
    occurrence_weight,
    tier_of,
    weights_frame,
)
from scoring.events import events_until, typed_property
from scoring.metrics.rates import NEVER, aggregated, exact_sum
from scoring.metrics.value import valued_purchase
from scoring.schema import UTC_TIMESTAMP

EVENT_DATE = "event_date"

DAILY_EVENT_COUNTS = pl.Schema(
    {
        "customer_id": pl.String(),
        "event_type": pl.String(),
        EVENT_DATE: pl.Date(),
        "count": pl.Int64(),
        "last_event_at": UTC_TIMESTAMP,
    }
)
"""Columns of the daily event-count aggregate (one row per customer, event type and day)."""

WINDOW_TOTALS = pl.Schema(
    {
        "customer_id": pl.String(),
        "event_type": pl.String(),
        "count": pl.Int64(),
        "occurrences": pl.Float64(),
        "last_event_at": UTC_TIMESTAMP,
    }
)
"""Per customer and event type: count and decayed count in the window, latest event."""

EVENT_TYPE_TOTALS = pl.Schema(
    {
        **WINDOW_TOTALS,
        "first_event_at": UTC_TIMESTAMP,
        "previous_occurrences": pl.Float64(),
        "valued_purchases": pl.Int64(),
        "purchase_amount": pl.Float64(),
    }
)
"""WINDOW_TOTALS plus what the metric panel needs from the history: the customer's first
event of the type, the type's decayed count in the previous period and its valued purchases
of the CLV lookback (scoring.metrics.value.valued_purchase) with their amount."""


def of_types(types: Iterable[str], present: Collection[str] | None = None) -> pl.Expr:
    """Over EVENT_TYPE_TOTALS rows: whether the event type is one of `types`. `present`: the
    event types the totals hold, when known; with none of `types` among them this is
    rates.NEVER, and the aggregations under it are constants (rates.when_possible), set
    after the group-by (customer_scores_from_totals)."""
    wanted = list(dict.fromkeys(types))
    if present is not None and not set(wanted) & set(present):
        return NEVER
    return (
        pl.col("event_type").is_in(wanted) if len(wanted) > 1 else pl.col("event_type") == wanted[0]
    )


def first_before(window: Window) -> pl.Expr:
    """Over EVENT_TYPE_TOTALS rows (or a customer's earliest first_event_at): whether the
    first event came before the window."""
    return pl.col("first_event_at") < pl.lit(window.start, dtype=UTC_TIMESTAMP)


CUSTOMER_LAST_EVENTS = pl.Schema({"customer_id": pl.String(), "last_event_at": UTC_TIMESTAMP})


def daily_event_counts(events: pl.LazyFrame) -> pl.LazyFrame:
    """Valid events -> customer_id, event_type, event_date (UTC), count, last_event_at."""
    return (
        events.group_by(
            "customer_id",
            "event_type",
            pl.col("occurred_at").dt.date().alias(EVENT_DATE),
        )
        .agg(
            pl.len().cast(pl.Int64).alias("count"),
            pl.col("occurred_at").max().alias("last_event_at"),
        )
        .select(list(DAILY_EVENT_COUNTS))
    )


def window_start_date(run_date: date, window_days: int) -> date:
    """The first UTC day of the window of `window_days` days ending on `run_date`."""
    return run_date - timedelta(days=window_days - 1)


def daily_counts_in_window(
    daily: pl.LazyFrame, config: ScoringConfig, run_date: date
) -> pl.LazyFrame:
    """The daily counts of the window's days (run date and the window_days - 1 before)."""
    start = window_start_date(run_date, config.window_days)
    return daily.filter(pl.col(EVENT_DATE).is_between(pl.lit(start), pl.lit(run_date)))


def day_weight(config: ScoringConfig, run_date: date) -> pl.Expr:
    """How much one occurrence on `event_date` counts: see decay_by_age."""
    return decay_by_age((pl.lit(run_date) - pl.col(EVENT_DATE)).dt.total_days(), config)


def customer_last_events(daily: pl.LazyFrame, run_date: date) -> pl.LazyFrame:
    """Every customer with an event on or before the run date and their latest event."""
    return (
        daily.filter(pl.col(EVENT_DATE) <= pl.lit(run_date))
        .group_by("customer_id")
        .agg(pl.col("last_event_at").max())
    )


def latest_events(*frames: pl.LazyFrame) -> pl.LazyFrame:
    """customer_id, last_event_at: the latest of several such frames, per customer."""
    return (
        pl.concat([f.select(list(CUSTOMER_LAST_EVENTS)) for f in frames])
        .group_by("customer_id")
        .agg(pl.col("last_event_at").max())
    )


SINCE_PREVIOUS = "_since_previous"
"""Aggregated without decay: the events since the previous period's start (see
_previous_occurrences)."""


def _previous_occurrences(window: Window, config: ScoringConfig) -> tuple[pl.Expr, pl.Expr]:
    """(aggregation over events that end with `window`, its expression after the group-by
    with `count` of _window_aggregations): the occurrences of the previous period (the window
    before it), decayed as of that period's run date when the configuration decays (summed
    exactly, see OCCURRENCE_DECIMALS)."""
    previous = Window.ending_on(
        window.run_date - timedelta(days=config.window_days), config.window_days
    )
    since_previous = pl.col("occurred_at") >= pl.lit(previous.start, dtype=UTC_TIMESTAMP)
    if config.half_life_days is None:
        # one comparison per event: events since the previous period's start, minus the
        # window's (its count), subtracted once per group
        return (
            since_previous.sum().alias(SINCE_PREVIOUS),
            (pl.col(SINCE_PREVIOUS) - pl.col("count")).cast(pl.Float64),
        )
    in_previous = since_previous & (
        pl.col("occurred_at") < pl.lit(previous.end, dtype=UTC_TIMESTAMP)
    )
    decayed = exact_sum(
        pl.when(in_previous).then(occurrence_weight(config, previous.run_date)),
        OCCURRENCE_DECIMALS,
    )
    return decayed.alias("previous_occurrences"), pl.col("previous_occurrences")


def _window_aggregations(window: Window, config: ScoringConfig) -> tuple[list[pl.Expr], pl.Expr]:
    """(count and last_event_at over events that end with the window, occurrences: an
    aggregation with decay, else `count` as a float after the group-by; a sum is not summed
    twice)."""
    in_window = pl.col("occurred_at") >= pl.lit(window.start, dtype=UTC_TIMESTAMP)
    aggregations = [
        in_window.sum().cast(pl.Int64).alias("count"),
        pl.col("occurred_at").max().alias("last_event_at"),
    ]
    if config.half_life_days is None:
        return aggregations, pl.col("count").cast(pl.Float64).alias("occurrences")
    occurrences = exact_sum(
        pl.when(in_window).then(occurrence_weight(config, window.run_date)),
        OCCURRENCE_DECIMALS,
    )
    return [*aggregations, occurrences.alias("occurrences")], pl.col("occurrences")


def window_totals(events: pl.LazyFrame, config: ScoringConfig, run_date: date) -> pl.LazyFrame:
    """One pass over valid events: per customer and event type seen by the end of the run date,
    `count` and `occurrences` (count x decay) in the window, and `last_event_at`.

    Rows with count 0 (a type seen only before the window) are kept for last_event_at.
    """
    window = Window.ending_on(run_date, config.window_days)
    aggregations, occurrences = _window_aggregations(window, config)
    return (
        events_until(events, window.end)
        .group_by("customer_id", "event_type")
        .agg(aggregations)
        .with_columns(occurrences)
        .select(list(WINDOW_TOTALS))
    )


def event_type_totals(events: pl.LazyFrame, config: ScoringConfig, run_date: date) -> pl.LazyFrame:
    """window_totals plus first_event_at and previous_occurrences (EVENT_TYPE_TOTALS), in the
    same one pass: `previous_occurrences` are the occurrences of the previous period, the
    window ending `window_days` before the run date (decayed as of that date); the valued
    purchases and their amount. The scoring step computes these once for itself and the metric
    panel."""
    window = Window.ending_on(run_date, config.window_days)
    amount = events.collect_schema().get("amount")
    # without an amount no event is a valued purchase: literals (set after the group-by)
    purchases = [pl.lit(0, dtype=pl.Int64), pl.lit(0.0)]
    if amount is not None:
        # the amount may be text in an event store's files: typed as the panel types it
        events = events.with_columns(typed_property("amount", amount, pl.Float64()))
        valued = valued_purchase(window, config.metric_settings)
        purchases = [valued.sum().cast(pl.Int64), exact_sum(pl.when(valued).then(pl.col("amount")))]
    aggregations, occurrences = _window_aggregations(window, config)
    since_previous, previous = _previous_occurrences(window, config)
    return (
        aggregated(
            events_until(events, window.end).group_by("customer_id", "event_type"),
            [
                *aggregations,
                pl.col("occurred_at").min().alias("first_event_at"),
                since_previous,
                purchases[0].alias("valued_purchases"),
                purchases[1].alias("purchase_amount"),
            ],
        )
        .with_columns(occurrences, previous.alias("previous_occurrences"))
        .select(list(EVENT_TYPE_TOTALS))
    )


def occurrences_of_daily_counts(config: ScoringConfig, run_date: date) -> pl.Expr:
    """Aggregation over daily event counts: the window's occurrences, sum of count_d x f(d)
    (the day's decay weight, exactly: the same sum as over the day's events one by one)."""
    if config.half_life_days is None:
        return pl.col("count").sum().cast(pl.Float64)
    day = day_weight(config, run_date).cast(pl.Decimal(38, OCCURRENCE_DECIMALS))
    return (pl.col("count").cast(pl.Decimal(38, 0)) * day).sum().cast(pl.Float64)


def window_totals_from_daily(
    daily: pl.LazyFrame, config: ScoringConfig, run_date: date
) -> pl.LazyFrame:
    """The same totals as `window_totals`, from daily counts: occurrences = sum of
    count_d x f(d) over the window's days (last_event_at: latest within the window only)."""
    occurrences = occurrences_of_daily_counts(config, run_date)
    return (
        daily_counts_in_window(daily, config, run_date)
        .group_by("customer_id", "event_type")
        .agg(
            pl.col("count").sum().cast(pl.Int64),
            occurrences.alias("occurrences"),
            pl.col("last_event_at").max(),
        )
        .select(list(WINDOW_TOTALS))
    )


def slid_window_totals(
    kept: pl.LazyFrame, entering: pl.LazyFrame, leaving: pl.LazyFrame
) -> pl.LazyFrame:
    """The WINDOW_TOTALS (without decay) of a window one day later than the one `kept` holds:
    plus the daily counts of the day that enters, minus those of the day that leaves (daily
    counts of one day each). A pair's latest event stays its kept one while it has events
    left: they are all later than the day that leaves; a pair left with none drops out unless
    the entering day has some."""
    pair = ["customer_id", "event_type"]
    left = leaving.group_by(pair).agg(pl.col("count").sum().alias("_left"))
    remaining = (
        kept.join(left, on=pair, how="left")
        .with_columns((pl.col("count") - pl.col("_left").fill_null(0)).alias("count"))
        .filter(pl.col("count") > 0)
    )
    return (
        pl.concat(
            [
                remaining.select(*pair, "count", "last_event_at"),
                entering.select(*pair, pl.col("count").cast(pl.Int64), "last_event_at"),
            ]
        )
        .group_by(pair)
        .agg(pl.col("count").sum(), pl.col("last_event_at").max())
        .with_columns(pl.col("count").cast(pl.Float64).alias("occurrences"))
        .select(list(WINDOW_TOTALS))
    )


def contributions_from_totals(totals: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """Per customer and weighted event type in the window: count, weight, contribution =
    weight x occurrences; the table of `scoring.engagement.contributions`, sorted."""
    return (
        totals.filter(pl.col("count") > 0)
        .join(weights_frame(config), on="event_type", how="inner")
        .with_columns(contribution(pl.col("weight"), pl.col("occurrences")).alias("contribution"))
        .select("customer_id", "event_type", "count", "weight", "contribution")
        .sort("customer_id", "event_type")
    )


def customer_scores_from_totals(
    totals: pl.LazyFrame,
    config: ScoringConfig,
    last_events: pl.LazyFrame | None = None,
    also: Sequence[pl.Expr] = (),
) -> pl.LazyFrame:
    """One row per customer seen by the end of the run date: score = sum of contributions,
    tier, event_count, last_event_at; the table of `scoring.engagement.customer_scores`,
    sorted by customer_id.

    Totals from the raw events hold every customer seen (rows with count 0 included) and
    their latest event; totals from daily counts cover the window only, so those customers
    and latest events come from `last_events`.

    `also`: further aggregations over a customer's totals (with its types' `weight`, null when
    unweighted), computed in the same group-by and kept after the scores' columns (literals
    after it, see rates.aggregated).
    """
    per_customer = aggregated(
        totals.join(weights_frame(config), on="event_type", how="left")
        .with_columns(contribution(pl.col("weight"), pl.col("occurrences")).alias("_part"))
        .group_by("customer_id"),
        [
            pl.col("count").sum().cast(pl.Int64).alias("event_count"),
            exact_sum(pl.col("_part")).alias("score"),
            pl.col("last_event_at").max(),
            *also,
        ],
    )
    if last_events is not None:
        per_customer = last_events.join(
            per_customer.drop("last_event_at"), on="customer_id", how="left"
        )
    return (
        per_customer.with_columns(
            pl.col("score").fill_null(0.0).round(SCORE_DECIMALS),
            pl.col("event_count").fill_null(0),
        )
        .with_columns(tier_of(pl.col("score"), config.tier_boundaries).alias("tier"))
        .select(
            "customer_id",
            "score",
            "tier",
            "event_count",
            "last_event_at",
            *(e.meta.output_name() for e in also),
        )
        .sort("customer_id")
    )


def unweighted_event_types_from_totals(totals: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """Event types seen in the window that have no weight (they count 0): event_type, count."""
    return (
        totals.filter(pl.col("count") > 0)
        .join(weights_frame(config), on="event_type", how="anti")
        .group_by("event_type")
        .agg(pl.col("count").sum().cast(pl.Int64))
        .sort("event_type")
    )


def customer_bucket(buckets: int) -> pl.Expr:
    """The scale-out bucket (0 .. buckets - 1) of each customer: a hash of customer_id, the
    same in every process of one Polars version, so each customer is scored by one bucket."""
    return (pl.col("customer_id").hash(seed=20260331) % buckets).cast(pl.Int64)
