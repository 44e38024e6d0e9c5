"""One run per run date at a time: a global concurrency limit of 1 per date, created by the
job itself (a `concurrency()` on a limit that does not exist silently does nothing)."""

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date

from prefect import get_client, get_run_logger
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
)
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

# A run killed without cleanup keeps its date locked until its lease expires (renewed every
# 45 s while the run is alive).
LEASE_SECONDS = 60


def run_date_lock_name(run_date: date) -> str:
    """The name of the global concurrency limit guarding one run date's partitions."""
    return f"engage-run-date-{run_date.isoformat()}"


def ensure_lock(name: str) -> None:
    """Create the limit `name` with one slot if missing; reset it to one active slot if someone
    changed it (a limit above 1 or inactive would let two runs write the same partition)."""
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            # a concurrent run of the same date may create it first
            with suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )
            return
        if limit.limit != 1 or not limit.active:
            client.update_global_concurrency_limit(
                name, GlobalConcurrencyLimitUpdate(limit=1, active=True)
            )


@contextmanager
def run_date_lock(run_date: date) -> Iterator[None]:
    """Hold the run date's lock: a second run of the same date waits here; other dates don't."""
    name = run_date_lock_name(run_date)
    ensure_lock(name)
    logger = get_run_logger()
    logger.info("waiting for the lock %s", name)
    with concurrency(name, occupy=1, strict=True, lease_duration=LEASE_SECONDS):
        logger.info("holding the lock %s", name)
        yield
