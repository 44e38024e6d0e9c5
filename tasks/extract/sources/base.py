"""The source interface: `read(window) -> LazyFrame` of raw events, and what all sources share.

Every source returns the same raw event frame as `tasks.extract.files.read_events`: the required
columns as text, `occurred_at` as a UTC timestamp (its original text kept for error reasons),
`source_file` / `source_row` provenance and a global `_row` id. Validation and scoring
downstream do not know where events came from.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import polars as pl

from scoring.events import ROW_ID
from scoring.schema import UTC_TIMESTAMP
from tasks.extract.files import EventInputError, extras_alike, typed_event_frame


class SourceError(EventInputError):
    """A source that cannot be read: the message names the source and what to check."""


class SourceUnavailable(SourceError):
    """A source that failed in a way worth retrying later (unreachable, retries exhausted)."""


@dataclass(frozen=True)
class ExtractWindow:
    """Which events to read: `start <= occurred_at < end` (UTC); no start = from the beginning.

    Rows whose time is missing or unreadable are always read, so validation quarantines them
    instead of a filter dropping them silently.
    """

    start: datetime | None
    end: datetime

    def contains(self, occurred_at: pl.Expr) -> pl.Expr:
        """True for the rows of the window (and for rows without a usable time)."""
        end = pl.lit(self.end, dtype=UTC_TIMESTAMP)
        inside = occurred_at < end
        if self.start is not None:
            inside = inside & (occurred_at >= pl.lit(self.start, dtype=UTC_TIMESTAMP))
        return inside | occurred_at.is_null()

    def describe(self) -> str:
        start = self.start.isoformat() if self.start else "the beginning"
        return f"[{start}, {self.end.isoformat()})"


class EventSource(Protocol):
    """Where events live. `read` returns the raw event frame of the window."""

    name: str

    def read(self, window: ExtractWindow) -> pl.LazyFrame: ...

    def close(self) -> None: ...


def with_event_columns(
    frame: pl.DataFrame, columns: Mapping[str, str], source: str, origin: str = ""
) -> pl.DataFrame:
    """The frame with the source's columns renamed onto event columns (`columns`: source ->
    event). A mapped column missing from the data is an error naming the source."""
    if not columns or frame.width == 0:
        return frame
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SourceError(
            f"source {source!r}: {origin + ': ' if origin else ''}column(s) "
            f"{', '.join(missing)} of the column mapping are not in the data "
            f"(found: {', '.join(frame.columns) or 'none'}); "
            f"fix `sources.{source}.columns` in the configuration"
        )
    # a column the mapping replaces (e.g. an unrelated `event_type` next to `name`) is dropped
    replaced = [e for s, e in columns.items() if e in frame.columns and e not in columns]
    return frame.drop(replaced).rename(dict(columns))


def raw_event_frame(
    frame: pl.DataFrame, origin: str, columns: Mapping[str, str], source: str
) -> pl.DataFrame:
    """One piece of a source (a file, a result set) as raw events with provenance `origin`."""
    return typed_event_frame(with_event_columns(frame, columns, source, origin), origin)


def in_window(pieces: list[pl.DataFrame], window: ExtractWindow) -> pl.LazyFrame:
    """The pieces of a source as one frame of the window's events, with a global `_row` id."""
    if not pieces:
        pieces = [typed_event_frame(pl.DataFrame(), "(no data)")]
    return (
        pl.concat(extras_alike(pieces), how="diagonal_relaxed")
        .lazy()
        .filter(window.contains(pl.col("occurred_at")))
        .with_row_index(ROW_ID)
    )
