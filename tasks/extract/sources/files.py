"""Files source: local paths / directories / globs and `s3://` URIs through fsspec (s3fs).

Each file is parsed by `tasks.extract.files` (CSV and NDJSON as text, Parquet typed, `.gz` too);
S3 objects are downloaded to a private temporary directory first and keep their `s3://` URI
as provenance. Files cannot filter by time on the server, so the window is applied on read.
"""

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from tasks.extract.files import (
    EventFile,
    event_files,
    read_untyped_file,
    refuse_type_changes,
    typed_event_frame,
)
from tasks.extract.sources.base import (
    ExtractWindow,
    SourceError,
    SourceUnavailable,
    in_window,
    with_event_columns,
)
from tasks.extract.sources.config import FileSourceConfig
from tasks.secrets import SecretNotFoundError, as_secret, resolve_secret


def s3_endpoint(config: FileSourceConfig) -> str | None:
    """The S3 endpoint: configured, else ENGAGE_S3_ENDPOINT_URL, else AWS_ENDPOINT_URL."""
    return (
        config.endpoint_url
        or os.environ.get("ENGAGE_S3_ENDPOINT_URL")
        or os.environ.get("AWS_ENDPOINT_URL")
    )


def _modified(info: dict[str, Any]) -> datetime | None:
    """Last modification time in an fsspec listing (S3: LastModified; local: mtime)."""
    value = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None


class FileSource:
    """Events in files, local or on S3-compatible object storage."""

    def __init__(self, config: FileSourceConfig) -> None:
        self.name = config.name
        self.config = config
        self._filesystem: Any = None

    @property
    def is_remote(self) -> bool:
        return "://" in self.config.path and not self.config.path.startswith("file://")

    def filesystem(self) -> Any:
        """The fsspec file system of a remote path (credentials from the environment)."""
        if self._filesystem is None:
            import fsspec

            protocol = self.config.path.split("://", 1)[0]
            options: dict[str, Any] = {"skip_instance_cache": True, **self._secret_options()}
            endpoint = s3_endpoint(self.config)
            if protocol in ("s3", "s3a") and endpoint:
                options["endpoint_url"] = endpoint
            self._filesystem = fsspec.filesystem(protocol, **options)
        return self._filesystem

    def _secret_options(self) -> dict[str, Any]:
        """fsspec options (credentials) from the configured Prefect Secret block, if any."""
        secret = self.config.credentials_secret()
        if secret is None:
            return {}
        try:
            options = json.loads(resolve_secret(secret).get_secret_value())
        except (SecretNotFoundError, RuntimeError, ValueError) as error:
            reason = str(error) if isinstance(error, SecretNotFoundError) else type(error).__name__
            raise SourceError(
                f"source {self.name!r}: cannot load the Prefect Secret block "
                f"{self.config.credentials_block!r}: {reason}; create it or fix "
                "`credentials_block`"
            ) from None  # the error could quote the secret
        if not isinstance(options, dict):
            raise SourceError(
                f"source {self.name!r}: the Secret block {self.config.credentials_block!r} must "
                'hold a JSON object of storage options, e.g. {"key": ..., "secret": ...}'
            )
        for value in options.values():
            if isinstance(value, str):
                as_secret(value)  # each option masked on its own too
        return options

    def remote_files(self) -> dict[str, datetime | None]:
        """The objects matching the URI (a prefix lists what is under it), by name, with
        their last modification time (None when the store does not say)."""
        protocol = self.config.path.split("://", 1)[0]
        filesystem = self.filesystem()
        try:
            if any(ch in self.config.path for ch in "*?["):
                found = filesystem.glob(self.config.path, detail=True)
            elif filesystem.isdir(self.config.path):
                found = filesystem.find(self.config.path, detail=True)
            elif filesystem.exists(self.config.path):
                found = {self.config.path: filesystem.info(self.config.path)}
            else:
                found = {}
        except Exception as error:  # botocore / aiohttp errors vary by backend
            raise SourceUnavailable(
                f"source {self.name!r}: cannot list {self.config.path}: {error}; check the "
                "bucket, the endpoint (endpoint_url / ENGAGE_S3_ENDPOINT_URL) and the "
                "credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
            ) from error
        files = {
            (name if "://" in name else f"{protocol}://{name}"): _modified(info)
            for name, info in found.items()
            if info.get("type", "file") == "file" and not name.endswith((".md", "/"))
        }
        if not files:
            raise SourceError(
                f"source {self.name!r}: no event files match {self.config.path!r}: "
                "check the bucket and prefix"
            )
        return dict(sorted(files.items()))

    def _read_remote(self, uri: str, directory: Path) -> pl.DataFrame:
        file = EventFile.of(uri)
        local = directory / Path(uri.split("://", 1)[1]).name
        try:
            self.filesystem().get(uri, str(local))
        except Exception as error:
            raise SourceUnavailable(
                f"source {self.name!r}: cannot download {uri}: {error}; check the "
                "credentials and that the object still exists"
            ) from error
        return self._events(EventFile(str(local), file.format, file.compression), uri)

    def _events(self, file: EventFile, origin: str) -> pl.DataFrame:
        """One file as raw events with provenance `origin`, its columns mapped; a Parquet
        column whose type contradicts the event contract is an error naming it, as with
        `--events` (a binary id is bytes, perhaps not text at all)."""
        columns = self.config.columns
        frame = with_event_columns(read_untyped_file(file), columns, self.name, origin)
        if file.format == "parquet":
            refuse_type_changes(frame.schema, origin, {e: s for s, e in columns.items()})
        return typed_event_frame(frame, origin)

    def _arrived(self, modified: datetime | None, window: ExtractWindow) -> bool:
        """Whether a file may hold events of the window. A file last modified before the
        window starts holds only older events (an event is written after it happens)."""
        if not self.config.skip_old_files or window.start is None or modified is None:
            return True
        return modified >= window.start

    def read(self, window: ExtractWindow) -> pl.LazyFrame:
        """Every matching file's events in the window, files in name order."""
        if not self.is_remote:
            files = event_files(self.config.path.removeprefix("file://"))
            pieces = [
                self._events(f, f.path)
                for f in files
                if self._arrived(datetime.fromtimestamp(os.stat(f.path).st_mtime, UTC), window)
            ]
            return in_window(pieces, window)
        remote = self.remote_files()
        with tempfile.TemporaryDirectory(prefix="engage-s3-") as directory:
            pieces = [
                self._read_remote(uri, Path(directory))
                for uri, modified in remote.items()
                if self._arrived(modified, window)
            ]
            return in_window(pieces, window).collect().lazy()

    def close(self) -> None:
        self._filesystem = None
