"""Ratios that are null, never 0, when there is nothing to divide by."""

import polars as pl


def ratio(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """part / whole; null when whole is 0 or null."""
    return pl.when(whole > 0).then(part.cast(pl.Float64) / whole).otherwise(None)


def percent(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """part / whole x 100; null when whole is 0 or null."""
    return pl.when(whole > 0).then(part.cast(pl.Float64) * 100.0 / whole).otherwise(None)


def count_of(condition: pl.Expr) -> pl.Expr:
    """How many rows satisfy a condition, as Int64 (0 when none)."""
    return condition.sum().cast(pl.Int64)


def sum_where(values: pl.Expr, condition: pl.Expr) -> pl.Expr:
    """The sum of `values` over the rows that satisfy a condition (0 when none); in a group-by
    it stays on the fast path, where `values.filter(condition).sum()` does not."""
    return pl.when(condition).then(values).sum()


def flag(condition: pl.Expr) -> pl.Expr:
    """A boolean as an additive 0/1 count."""
    return condition.fill_null(False).cast(pl.Int64)
