"""Turning raw event rows into typed, de-duplicated events (pure Polars, no I/O)."""

from datetime import datetime

import polars as pl

from scoring.schema import OPTIONAL_EVENT_COLUMNS, UTC_TIMESTAMP

ROW_ID = "_row"
"""Global 0-based position of a row in the input (files in order): keeps results deterministic."""

_OFFSET_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z")
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M")


def timestamp_from_text(text: pl.Expr) -> pl.Expr:
    """Parse ISO 8601 text to a UTC timestamp; null where it is not one.

    Accepts an offset (`+02:00`, `+0200`) or `Z`, a naive time (taken as UTC), a space instead
    of `T`, fractional seconds, and a bare date (midnight UTC).
    """
    normalized = (
        text.str.strip_chars()
        .str.replace(r"[zZ]$", "+00:00")
        .str.replace(r"^(\d{4}-\d{2}-\d{2})[ tT]", "${1}T")
    )
    with_offset = [
        normalized.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")
        for fmt in _OFFSET_FORMATS
    ]
    naive = [
        normalized.str.to_datetime(fmt, strict=False, time_unit="us").dt.replace_time_zone("UTC")
        for fmt in _NAIVE_FORMATS
    ]
    bare_date = (
        normalized.str.to_date("%Y-%m-%d", strict=False)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    return pl.coalesce(*with_offset, *naive, bare_date).alias("occurred_at")


def timestamp_from_typed(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A typed (Parquet) timestamp or date as a UTC timestamp: naive values are taken as UTC."""
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return column.dt.cast_time_unit("us").dt.replace_time_zone("UTC")
        return column.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if dtype == pl.Date:
        return column.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    raise TypeError(f"occurred_at must be a timestamp, a date or ISO 8601 text, not {dtype}")


def blank_as_null(column: str) -> pl.Expr:
    """Text with nothing but white space is missing."""
    return (
        pl.when(pl.col(column).str.strip_chars() == "")
        .then(None)
        .otherwise(pl.col(column))
        .alias(column)
    )


def repeated_values(frame: pl.LazyFrame, column: str) -> pl.LazyFrame:
    """The values of `column` that occur more than once in `frame`, each once: the values
    sorted and compared with their neighbours (several times faster than a hash table over
    millions of distinct values)."""
    value = pl.col(column)
    return frame.select(value.sort()).filter(value == value.shift(1)).unique()


def later_occurrences(events: pl.LazyFrame) -> pl.LazyFrame:
    """The events whose `event_id` occurred in an earlier event (by `_row`): the duplicates that
    de-duplication drops, the first occurrence being kept. A null `event_id` never repeats.

    The 64-bit hashes of the ids are sorted and compared with their neighbours (several times
    faster than a hash table over the text, e.g. `is_first_distinct`, on millions of ids); only
    the few events whose hash repeats are compared on the text itself, so a hash collision
    never merges two ids.
    """
    identified = events.filter(pl.col("event_id").is_not_null()).with_columns(
        pl.col("event_id").hash().alias("_hash")
    )
    return (
        identified.join(repeated_values(identified, "_hash"), on="_hash", how="semi")
        .sort(ROW_ID)
        .filter(~pl.col("event_id").is_first_distinct())
        .drop("_hash")
    )


def events_until(events: pl.LazyFrame, end_exclusive: datetime) -> pl.LazyFrame:
    """Events strictly before `end_exclusive`: what was known at a run date's cut-off."""
    return events.filter(pl.col("occurred_at") < pl.lit(end_exclusive, dtype=UTC_TIMESTAMP))


def typed_property(name: str, source: pl.DataType | None, target: pl.DataType) -> pl.Expr:
    """One optional property column as its contract dtype: absent -> null, unparseable -> null.

    Text is stripped first, and blank text is missing; numbers written as text (`"4"`,
    `" 4.5 "`) become numbers.
    """
    if source is None:
        return pl.lit(None, dtype=target).alias(name)
    column = pl.col(name)
    if source == pl.String:
        column = blank_as_null(name).str.strip_chars()
    return column.cast(target, strict=False).alias(name)


def typed_properties(events: pl.LazyFrame, only_mistyped: bool = False) -> pl.LazyFrame:
    """The events with every optional property column of the contract cast to its dtype.

    Missing property columns are added as nulls; text that does not parse as the column's
    type becomes null (the validation suite decides whether such a row is quarantined).
    only_mistyped: leave the columns that have their dtype already as they are (events typed
    by validation before, whose text is stripped already).
    """
    schema = events.collect_schema()
    return events.with_columns(
        typed_property(column.name, schema.get(column.name), column.dtype)
        for column in OPTIONAL_EVENT_COLUMNS
        if not (only_mistyped and schema.get(column.name) == column.dtype)
    )
