"""The extract stage's Prefect tasks: find the run's event files, read them as raw events.

The readers themselves (tasks/extract/files.py) import no Prefect, so the command line's
pre-flight checks can read a file's header before Prefect is imported.
"""

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.config import MAX_UNCOMPRESSED_BYTES
from tasks.extract.files import EventFile, event_files, read_events
from tasks.retry import TRANSIENT_RETRIES


@task(
    name="find-event-files",
    **TRANSIENT_RETRIES,
)
def find_event_files(events: str) -> list[str]:
    """The input files of a run, resolved once so the manifest can list them."""
    return [f.path for f in event_files(events)]


@task(
    name="extract-events",
    cache_policy=NO_CACHE,
    persist_result=False,
    **TRANSIENT_RETRIES,
)
def extract_events(
    paths: list[str], max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES
) -> pl.DataFrame:
    """Read the run's input files into one raw event frame, kept in memory for validation
    (which reads every row anyway: staging it on disk cost as much as reading it)."""
    return read_events([EventFile.of(p) for p in paths], max_uncompressed_bytes)
