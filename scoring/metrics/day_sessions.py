"""Sessions across days (scoring.metrics.panel_days): a session may run across midnight or
reuse its id on a later day; the sessions with more than one row in the window's session_days
are merged by their ids and replace their per-day counts."""

import polars as pl

from scoring.events import repeated_values
from scoring.metrics.day_schemas import SESSION_COUNTS
from scoring.metrics.panel_days import day_sessions


def repeated_session_keys(sessions: pl.LazyFrame) -> pl.LazyFrame:
    """The session_key values of more than one session_days row: the sorted keys compared
    with their neighbours (several times faster than grouping millions of distinct keys)."""
    return repeated_values(sessions, "session_key")


def multi_row_sessions(sessions: pl.LazyFrame) -> pl.LazyFrame:
    """The session_days rows of the sessions with more than one row (over several days or
    input files; or sharing a 64-bit key with another session, merged apart by their ids)."""
    return sessions.join(repeated_session_keys(sessions), on="session_key", how="semi")


def merged_sessions(sessions: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer (by key): the change of each SESSION_COUNTS when the sessions with more
    than one row in the window's session_days (multi_row_sessions) are counted once, merged
    by their ids (views, timed, interactions summed), instead of once per row."""
    candidates = multi_row_sessions(sessions)
    merged = candidates.group_by("customer_id", "session_id").agg(
        pl.col("views").sum(), pl.col("timed").sum(), pl.col("interactions").sum()
    )
    return (
        pl.concat(
            [
                merged.group_by("customer_id").agg(day_sessions(merged)),
                candidates.group_by("customer_id")
                .agg(day_sessions(candidates))
                .with_columns(pl.col(SESSION_COUNTS) * -1),
            ]
        )
        .group_by("customer_id")
        .agg(pl.col(SESSION_COUNTS).sum())
    )


def session_exit_changes(sessions: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer (by key) and page: the change of exits when the sessions with more than
    one row (multi_row_sessions) exit at their latest view instead of each row's."""
    candidates = multi_row_sessions(sessions).filter(pl.col("views") > 0)
    merged = candidates.group_by("customer_id", "session_id").agg(
        pl.col("exit_page").sort_by("last_view_at", "last_view_id").last()
    )

    def exits(frame: pl.LazyFrame, change: int) -> pl.LazyFrame:
        return frame.select("customer_id", "exit_page", pl.lit(change, dtype=pl.Int64).alias("d"))

    return (
        pl.concat([exits(merged, 1), exits(candidates, -1)])
        .filter(pl.col("exit_page").is_not_null())
        .group_by("customer_id", pl.col("exit_page").alias("page"))
        .agg(pl.col("d").sum().alias("exit_change"))
    )
