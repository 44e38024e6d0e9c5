"""Scores and contributions by 64-bit keys: the tables of scoring.aggregates (from
window_totals) without grouping events by text.

Grouping every event by two text ids (customer_id, event_type) spends its time hashing and
comparing text in a large hash table. Here:

1. the window's events are grouped by one 64-bit number per (customer, event type), PAIR_KEY;
   each group keeps the position of its first event, whose two ids are read back once
   (restored_pairs);
2. the customers seen only before the window are the earlier events whose CUSTOMER_KEY is not
   a window customer's (an anti-join, far cheaper than grouping them), grouped by their text
   id (few rows: most history belongs to customers of the window);
3. the outputs are ordered by each customer's rank among the sorted ids (one sort of the
   distinct ids, customer_order), not by sorting rows on text.

A 64-bit hash may give two ids one number. Each step that relies on one is checked: the pairs
carry a second, independent hash (PAIR_CHECK): summed over the rows grouped (check_total) it
must equal the sum over the groups of ROWS x the PAIR_CHECK of the ids restored for each
(pairs_told_apart), which a group holding two pairs breaks unless the two sums still agree mod
2^64; and CUSTOMER_KEY must differ for every customer scored (keys_told_apart), which the
anti-join keeps visible by dropping only events whose CUSTOMER_IDENTITY (KEY and CHECK side by
side) is a window customer's. When a check fails the caller scores with the text ids instead;
a clash passing unseen needs both independent hashes to agree (odds about 2^-128 per pair of
ids).
"""

from datetime import date

import polars as pl

from scoring.aggregates import occurrences_of_daily_counts
from scoring.config import ScoringConfig
from scoring.engagement import (
    OCCURRENCE_DECIMALS,
    SCORE_DECIMALS,
    Window,
    contribution,
    occurrence_weight,
    tier_of,
    weights_frame,
)
from scoring.metrics.rates import exact_sum
from scoring.schema import UTC_TIMESTAMP

CUSTOMER_KEY = pl.col("customer_id").hash(seed=20260331)
"""A customer's 64-bit key (the hash of scoring.aggregates.customer_bucket)."""
CUSTOMER_CHECK = pl.col("customer_id").hash(seed=20261231)
"""An independent 64-bit hash of customer_id: shows whether CUSTOMER_KEY told ids apart."""
_SPREAD = 0x9E3779B97F4A7C15  # odd: multiplying by it (mod 2^64) maps distinct hashes apart
CUSTOMER_IDENTITY = CUSTOMER_KEY.cast(pl.UInt128) * pl.lit(1 << 64, dtype=pl.UInt128) + (
    CUSTOMER_CHECK.cast(pl.UInt128)
)
"""CUSTOMER_KEY and CUSTOMER_CHECK side by side in one 128-bit number: one set lookup."""
PAIR_KEY = CUSTOMER_KEY ^ (pl.col("event_type").hash(seed=20260401) * _SPREAD)
"""The 64-bit key of an event's (customer_id, event_type)."""
PAIR_CHECK = CUSTOMER_CHECK ^ (pl.col("event_type").hash(seed=20260402) * _SPREAD)
"""An independent 64-bit hash of (customer_id, event_type)."""

ROWS = "_rows"
"""Rows grouped under a key (events, or daily counts' rows): what pairs_told_apart multiplies
the restored ids' PAIR_CHECK by."""
POSITION = "_position"
"""An event's position among the window's events (the group keeps its first one's)."""
CHECK_SUM = "_check_sum"
"""Sum (mod 2^64) of PAIR_CHECK over the rows grouped (check_total)."""
KEY, IDENTITY, RANK, TYPE_RANK = "_key", "_identity", "_rank", "_type_rank"


def window_bounds(config: ScoringConfig, run_date: date) -> tuple[pl.Expr, pl.Expr]:
    """(the window's start, its end) as UTC timestamp literals."""
    window = Window.ending_on(run_date, config.window_days)
    return pl.lit(window.start, dtype=UTC_TIMESTAMP), pl.lit(window.end, dtype=UTC_TIMESTAMP)


def window_events(events: pl.LazyFrame, config: ScoringConfig, run_date: date) -> pl.LazyFrame:
    """The window's events, only the columns scoring reads."""
    start, end = window_bounds(config, run_date)
    occurred_at = pl.col("occurred_at")
    return events.filter((occurred_at >= start) & (occurred_at < end)).select(
        "customer_id", "event_type", "occurred_at"
    )


def window_pairs(in_window: pl.LazyFrame, config: ScoringConfig, run_date: date) -> pl.LazyFrame:
    """Per PAIR_KEY of the window's events (window_events, in memory): count, occurrences
    (decayed with a half-life, else the count), last_event_at, the POSITION of its first
    event and ROWS (the count again: set after the group-by, not counted twice)."""
    aggregations = [
        pl.len().cast(pl.Int64).alias("count"),
        pl.col("occurred_at").max().alias("last_event_at"),
        pl.col(POSITION).min(),
    ]
    if config.half_life_days is None:
        occurrences = pl.col("count").cast(pl.Float64)
    else:
        decayed = exact_sum(occurrence_weight(config, run_date), OCCURRENCE_DECIMALS)
        aggregations.append(decayed.alias("occurrences"))
        occurrences = pl.col("occurrences")
    return (
        in_window.with_row_index(POSITION)
        .group_by(PAIR_KEY.alias(KEY))
        .agg(aggregations)
        .with_columns(occurrences.alias("occurrences"), pl.col("count").alias(ROWS))
    )


def daily_pairs(daily: pl.LazyFrame, config: ScoringConfig, run_date: date) -> pl.LazyFrame:
    """Per PAIR_KEY of the window's daily event counts (scoring.aggregates.DAILY_EVENT_COUNTS
    rows of its days, in memory): count, occurrences, last_event_at, the POSITION of its first
    row and ROWS: aggregates.window_totals_from_daily by 64-bit keys."""
    occurrences = occurrences_of_daily_counts(config, run_date)
    return (
        daily.with_row_index(POSITION)
        .group_by(PAIR_KEY.alias(KEY))
        .agg(
            pl.col("count").sum().cast(pl.Int64),
            occurrences.alias("occurrences"),
            pl.col("last_event_at").max(),
            pl.col(POSITION).min(),
            pl.len().alias(ROWS),
        )
    )


def restored_pairs(pairs: pl.DataFrame, in_window: pl.DataFrame) -> pl.DataFrame:
    """The pairs (window_pairs) with the customer_id and event_type of their first event."""
    first = pairs.get_column(POSITION)
    # one chunk first: gathering from the scan's many chunks is several times slower
    return pairs.with_columns(
        in_window.get_column("customer_id").rechunk().gather(first),
        in_window.get_column("event_type").rechunk().gather(first),
    )


def check_total(rows: pl.LazyFrame) -> pl.LazyFrame:
    """One row, CHECK_SUM: the sum (mod 2^64) of PAIR_CHECK over the rows a pairs' group-by
    reads (a pass of its own, cheaper than a sum per group)."""
    return rows.select(PAIR_CHECK.sum().alias(CHECK_SUM))


def pairs_told_apart(check_sum: int) -> pl.Expr:
    """Over restored pairs: whether every group held one (customer_id, event_type), i.e. the
    sum of ROWS x the PAIR_CHECK of the restored ids is the rows' `check_sum` (check_total),
    mod 2^64. A group holding the rows of pairs A (restored) and B adds count_B x (PAIR_CHECK_A
    - PAIR_CHECK_B) to one side only."""
    restored = (PAIR_CHECK * pl.col(ROWS).cast(pl.UInt64)).sum()
    return restored == pl.lit(check_sum, dtype=pl.UInt64)


def told_apart_pairs(grouped: pl.LazyFrame, rows: pl.DataFrame) -> pl.DataFrame | None:
    """The pairs `grouped` (window_pairs or daily_pairs of `rows`) with their ids restored
    (restored_pairs), computed beside the rows' check_total; None when a PAIR_KEY held two
    pairs (pairs_told_apart)."""
    pairs, check = pl.collect_all([grouped, check_total(rows.lazy())])
    restored = restored_pairs(pairs, rows)
    return restored if restored.select(pairs_told_apart(check.item())).item() else None


def keys_told_apart(customers: pl.LazyFrame) -> pl.LazyFrame:
    """One row, `told_apart`: whether CUSTOMER_KEY differs for these distinct customer_ids."""
    return customers.select((CUSTOMER_KEY.n_unique() == pl.len()).alias("told_apart"))


def window_customers(pairs: pl.LazyFrame) -> pl.LazyFrame:
    """The distinct customers of the restored pairs with their KEY and IDENTITY
    (CUSTOMER_IDENTITY)."""
    return pairs.select(pl.col("customer_id").unique()).with_columns(
        CUSTOMER_KEY.alias(KEY), CUSTOMER_IDENTITY.alias(IDENTITY)
    )


def customers_before_window(
    events: pl.LazyFrame, known: pl.DataFrame, config: ScoringConfig, run_date: date
) -> pl.LazyFrame:
    """The customers with an event before the window and none in it (`known`: the window's
    customers, window_customers): customer_id, last_event_at.

    An event is a known customer's when its CUSTOMER_IDENTITY (KEY and CHECK) is a known
    customer's: a customer whose KEY alone is a known one's is kept, so that keys_told_apart
    over all the customers finds the clash."""
    start, _ = window_bounds(config, run_date)
    return (
        events.filter(pl.col("occurred_at") < start)
        .select("customer_id", "occurred_at")
        .filter(~CUSTOMER_IDENTITY.is_in(known.get_column(IDENTITY).implode()))
        .group_by("customer_id")
        .agg(pl.col("occurred_at").max().alias("last_event_at"))
    )


def customer_order(customer_ids: pl.Series) -> pl.LazyFrame:
    """Per KEY of the sorted distinct `customer_ids`: its RANK in them (sorting the ids alone
    is far cheaper than sorting rows by them)."""
    return pl.LazyFrame({"customer_id": customer_ids}).select(
        CUSTOMER_KEY.alias(KEY), pl.int_range(pl.len(), dtype=pl.UInt32).alias(RANK)
    )


def ranked_pairs(
    pairs: pl.LazyFrame, order: pl.LazyFrame, event_types: list[str], config: ScoringConfig
) -> pl.LazyFrame:
    """The restored pairs in output order, without their text: customer RANK (customer_order),
    TYPE_RANK (in the sorted `event_types`), count, weight (null when unweighted),
    contribution = weight x occurrences (scoring.engagement.contribution) and last_event_at,
    sorted by customer_id and event_type through the two ranks."""
    # one join with a row per event type, not a lookup per pair and column
    per_type = pl.LazyFrame(
        {"event_type": event_types, TYPE_RANK: range(len(event_types))},
        schema={"event_type": pl.String, TYPE_RANK: pl.UInt32},
    ).join(weights_frame(config), on="event_type", how="left")
    position = pl.col(RANK).cast(pl.UInt64) * len(event_types) + pl.col(TYPE_RANK)
    return (
        pairs.join(per_type, on="event_type", how="left")
        .select(
            CUSTOMER_KEY.alias(KEY),
            TYPE_RANK,
            "count",
            "weight",
            contribution(pl.col("weight"), pl.col("occurrences")).alias("contribution"),
            "last_event_at",
        )
        .join(order, on=KEY, how="left")
        .sort(position)
        .drop(KEY)
    )


def keyed_contributions(
    ranked: pl.LazyFrame, customer_ids: pl.Series, event_types: list[str]
) -> pl.LazyFrame:
    """The contributions table (scoring.engagement.contributions) of ranked_pairs, its ids
    read from the sorted `customer_ids` and `event_types` by rank."""
    return ranked.filter(pl.col("weight").is_not_null()).select(
        pl.lit(customer_ids).gather(pl.col(RANK)).alias("customer_id"),
        pl.lit(pl.Series(event_types, dtype=pl.String))
        .gather(pl.col(TYPE_RANK))
        .alias("event_type"),
        "count",
        "weight",
        "contribution",
    )


def keyed_scores(
    ranked: pl.LazyFrame,
    before: pl.LazyFrame,
    order: pl.LazyFrame,
    customer_ids: pl.Series,
    config: ScoringConfig,
) -> pl.LazyFrame:
    """The scores table (scoring.engagement.customer_scores): the window's customers from
    ranked_pairs, those seen only before it (customers_before_window) scoring 0, in the order
    of the sorted `customer_ids`."""
    per_customer = ranked.group_by(RANK, maintain_order=True).agg(
        pl.col("count").sum().cast(pl.Int64).alias("event_count"),
        exact_sum(pl.col("contribution")).alias("score"),
        pl.col("last_event_at").max(),
    )
    earlier = before.select(
        CUSTOMER_KEY.alias(KEY),
        pl.lit(0, dtype=pl.Int64).alias("event_count"),
        pl.lit(0.0).alias("score"),
        "last_event_at",
    ).join(order, on=KEY, how="left")
    return (
        pl.concat([per_customer, earlier.drop(KEY)], how="diagonal")
        .sort(RANK)
        .with_columns(pl.col("score").round(SCORE_DECIMALS))
        .select(
            pl.lit(customer_ids).gather(pl.col(RANK)).alias("customer_id"),
            "score",
            tier_of(pl.col("score"), config.tier_boundaries).alias("tier"),
            "event_count",
            "last_event_at",
        )
    )


def keyed_unweighted(pairs: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """Event types of the window's restored pairs without a weight: event_type, count
    (sorted)."""
    return (
        pairs.filter(~pl.col("event_type").is_in(list(config.weights)))
        .group_by("event_type")
        .agg(pl.col("count").sum().cast(pl.Int64))
        .sort("event_type")
    )
