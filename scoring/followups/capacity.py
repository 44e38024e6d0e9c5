"""Capacity: how many flags the team is offered per run, decided once, here. Each flag gets a
status:

- `open`: delivered at an earlier run and still holds (not offered again);
- `new`: not delivered before (new today, or queued at earlier runs) and within capacity:
  delivered by this run;
- `queued`: not delivered before and over capacity (or a baseline run): kept, and offered
  again at every later run, in priority order, until delivered or resolved.

Capacity is per kind: in priority order, a flag waiting for delivery becomes `new` while its
account owner has had fewer than `per_owner` and the kind fewer than `per_run` new flags this
run (flags without an owner count against `per_run` only). A baseline run (no previous
history) queues every flag unless told to deliver.
"""

import polars as pl

from scoring.followup_config import Capacity
from scoring.schema import FLAGS, polars_schema

DELIVERED_STATUSES = ("new", "open")
"""Statuses of a flag the team has been sent."""


def empty_flags() -> pl.LazyFrame:
    """The flag table before any run."""
    return pl.LazyFrame(schema=polars_schema(FLAGS))


def within(limit: int | None, rank: pl.Expr) -> pl.Expr:
    """rank <= limit (always true when there is no limit)."""
    return pl.lit(True) if limit is None else rank <= limit


def flag_statuses(
    flags: pl.LazyFrame, previous: pl.LazyFrame, capacity: Capacity, deliver: bool
) -> pl.LazyFrame:
    """The prioritized flags (priority.prioritized_flags) with their status, from the previous
    run's flags (customer_id, kind, status) and the capacity; `deliver` False (a baseline
    run) queues every flag not delivered before. Sorted by priority."""
    delivered_before = previous.select(
        "customer_id", "kind", pl.col("status").is_in(DELIVERED_STATUSES).alias("delivered_before")
    )
    waiting = ~pl.col("delivered_before")
    owner_rank = waiting.cum_sum().over(["kind", "account_owner"])
    owner_fits = pl.col("account_owner").is_null() | within(capacity.per_owner, owner_rank)
    offered = pl.col("offered")
    run_fits = within(capacity.per_run, offered.cum_sum().over("kind"))
    return (
        flags.join(delivered_before, on=["customer_id", "kind"], how="left")
        .with_columns(pl.col("delivered_before").fill_null(False))
        .sort("priority")
        .with_columns((waiting & owner_fits & pl.lit(deliver)).alias("offered"))
        .with_columns(
            pl.when(~waiting)
            .then(pl.lit("open"))
            .when(offered & run_fits)
            .then(pl.lit("new"))
            .otherwise(pl.lit("queued"))
            .alias("status")
        )
        .select(polars_schema(FLAGS).names())
    )
