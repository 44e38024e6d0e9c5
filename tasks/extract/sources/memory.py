"""In-memory source: a frame given in code (tests, notebooks), read like any other source."""

from collections.abc import Mapping

import polars as pl

from tasks.extract.sources.base import ExtractWindow, in_window, raw_event_frame


class MemorySource:
    """Events held in a Polars frame; the window is applied on read."""

    def __init__(
        self, name: str, frame: pl.DataFrame, columns: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.frame = frame
        self.columns = dict(columns or {})
        self.reads: list[ExtractWindow] = []
        """Every window read, in order (lets tests see what an incremental run asked for)."""

    def read(self, window: ExtractWindow) -> pl.LazyFrame:
        self.reads.append(window)
        origin = f"memory:{self.name}"
        return in_window([raw_event_frame(self.frame, origin, self.columns, self.name)], window)

    def close(self) -> None:
        pass
