"""Event sources: files (local / S3), PostgreSQL, HTTP API, in-memory; one small interface.

`source_for(config)` builds the source a configuration names; `source.read(window)` returns
the raw event frame of the window (see `tasks.extract.sources.base`).
"""

from tasks.extract.sources.base import EventSource, ExtractWindow, SourceError
from tasks.extract.sources.config import (
    FileSourceConfig,
    HttpSourceConfig,
    PostgresSourceConfig,
    SourceConfig,
    sources_from_document,
)

__all__ = [
    "EventSource",
    "ExtractWindow",
    "FileSourceConfig",
    "HttpSourceConfig",
    "PostgresSourceConfig",
    "SourceConfig",
    "SourceError",
    "source_for",
    "sources_from_document",
]


def source_for(config: SourceConfig) -> EventSource:
    """The source a configuration describes (nothing is opened until `read`)."""
    if isinstance(config, FileSourceConfig):
        from tasks.extract.sources.files import FileSource

        return FileSource(config)
    if isinstance(config, PostgresSourceConfig):
        from tasks.extract.sources.postgres import PostgresSource

        return PostgresSource(config)
    from tasks.extract.sources.http_api import HttpSource

    return HttpSource(config)
