"""One run per run date at a time: a global concurrency limit of 1 per date, created by the
job itself (a `concurrency()` on a limit that does not exist silently does nothing)."""

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, timedelta

from prefect import get_client, get_run_logger
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
)
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from flows.settings import settings

# A run killed without cleanup keeps its date locked until its lease expires (Prefect's minimum
# lease is 60 s; renewed while the run is alive). ENGAGE_RUN_DATE_LOCK=false turns the lock off.
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
    logger = get_run_logger()
    if not settings().run_date_lock:
        logger.info("ENGAGE_RUN_DATE_LOCK is off: %s is not locked", run_date)
        yield
        return
    name = run_date_lock_name(run_date)
    ensure_lock(name)
    logger.info("waiting for the lock %s", name)
    with concurrency(name, occupy=1, strict=True, lease_duration=LEASE_SECONDS):
        logger.info("holding the lock %s", name)
        yield


def lock_is_held(run_date: date) -> bool:
    """Whether a run of `run_date` holds its lock now."""
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(run_date_lock_name(run_date))
        except ObjectNotFound:
            return False
    return limit.active_slots > 0


def wait_for_previous_date(run_date: date, why: str) -> None:
    """Wait while a run of the day before holds its lock. The volume check of a date reads the
    earlier dates' row counts and its follow-ups compare it with the previous published run,
    so when a backfill scores consecutive dates at once, each date waits before those steps
    for the date before it to be published (that run started first and never waits for this
    one, so the chain cannot deadlock): the outputs do not depend on which run finished
    first."""
    previous = run_date - timedelta(days=1)
    if not settings().run_date_lock or not lock_is_held(previous):
        return
    get_run_logger().info("waiting for the run of %s to publish (%s)", previous, why)
    with concurrency(
        run_date_lock_name(previous), occupy=1, strict=True, lease_duration=LEASE_SECONDS
    ):
        pass
