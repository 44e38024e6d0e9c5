"""Ratios that are null, never 0, when there is nothing to divide by, and exact sums.

Float sums go through Decimal: a Decimal sum is exact, so it does not depend on the order in
which Polars' parallel group-by adds its partial sums, and reruns give the same bits.
"""

from collections.abc import Iterable

import polars as pl
from polars.lazyframe.group_by import LazyGroupBy

EXACT_DECIMALS = 9
"""Float sums are taken as Decimal(38, 9): each value rounded to 1e-9, sums up to 1e29."""

EXACT_MAGNITUDE = 1e15
"""Input numbers stay below this in magnitude (validation quarantines the others): an exact sum
of up to 1e14 of them fits Decimal(38, 9), where one 1e30 alone overflows."""


def ratio(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """part / whole; null when whole is 0 or null."""
    return pl.when(whole > 0).then(part.cast(pl.Float64) / whole).otherwise(None)


def percent(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """part / whole x 100; null when whole is 0 or null."""
    return pl.when(whole > 0).then(part.cast(pl.Float64) * 100.0 / whole).otherwise(None)


def count_of(condition: pl.Expr) -> pl.Expr:
    """How many rows satisfy a condition, as Int64 (0 when none)."""
    return condition.sum().cast(pl.Int64)


def exact_sum(values: pl.Expr, decimals: int = EXACT_DECIMALS) -> pl.Expr:
    """The sum of float `values` as Float64 (0 when none), exact over the values rounded to
    `decimals` decimals (sums up to 10 ** (38 - decimals)), hence the same whatever the order
    of addition."""
    return decimal_sum(values, decimals).cast(pl.Float64)


def decimal_sum(values: pl.Expr, decimals: int = EXACT_DECIMALS) -> pl.Expr:
    """The exact sum of float `values` rounded to `decimals` decimals, kept as Decimal (a
    partial sum to add up further, exactly)."""
    return values.cast(pl.Decimal(38, decimals)).sum()


def sum_where(values: pl.Expr, condition: pl.Expr) -> pl.Expr:
    """The exact_sum of float `values` over the rows that satisfy a condition (0 when none); in
    a group-by it stays on the fast path, where `values.filter(condition)` does not."""
    return exact_sum(pl.when(condition).then(values))


NEVER = pl.lit(False)
"""A condition no row satisfies (scoring.aggregates.of_types of event types that never
occurred): an aggregation under it is a constant, which a group-by would still evaluate per
group, so it is given as a literal (see when_possible) and set after the group-by."""


def when_possible(condition: pl.Expr, aggregation: pl.Expr, constant: pl.Expr) -> pl.Expr:
    """`aggregation` (over rows where `condition` may hold), or the literal `constant` it
    equals when `condition` is NEVER."""
    return constant if condition.meta.eq(NEVER) else aggregation


def aggregated(grouped: LazyGroupBy, expressions: Iterable[pl.Expr]) -> pl.LazyFrame:
    """`grouped.agg(expressions)`, but the literals among them (such as when_possible's
    constants) are set after the group-by: as aggregations, even literals cost a pass over
    every group."""
    expressions = list(expressions)

    def literal(e: pl.Expr) -> bool:
        return e.meta.is_literal(allow_aliasing=True)

    return grouped.agg(e for e in expressions if not literal(e)).with_columns(
        e for e in expressions if literal(e)
    )


def total_where(counts: pl.Expr, condition: pl.Expr) -> pl.Expr:
    """The sum of integer `counts` over the rows that satisfy a condition, as Int64 (0 when
    none; the literal 0 when the condition is NEVER)."""
    aggregation = pl.when(condition).then(counts).sum().cast(pl.Int64)
    return when_possible(condition, aggregation, pl.lit(0, dtype=pl.Int64))


def flag(condition: pl.Expr) -> pl.Expr:
    """A boolean as an additive 0/1 count."""
    return condition.fill_null(False).cast(pl.Int64)
