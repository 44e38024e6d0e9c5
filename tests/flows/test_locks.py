"""The per-run-date lock is a global concurrency limit the job creates (and repairs) itself."""

from datetime import date

import pytest
from prefect import flow, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse
from prefect.concurrency.sync import concurrency

from flows.locks import ensure_lock, lock_is_held, run_date_lock, run_date_lock_name

pytestmark = pytest.mark.usefixtures("prefect_api")


def read_limit(name: str) -> GlobalConcurrencyLimitResponse:
    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(name)


def test_lock_is_created_with_one_slot_and_repaired_when_changed() -> None:
    name = run_date_lock_name(date(2031, 1, 2))
    assert name == "engage-run-date-2031-01-02"
    ensure_lock(name)
    ensure_lock(name)  # idempotent
    limit = read_limit(name)
    assert (limit.limit, limit.active) == (1, True)

    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(
            name, GlobalConcurrencyLimitUpdate(limit=3, active=False)
        )
    ensure_lock(name)
    limit = read_limit(name)
    assert (limit.limit, limit.active) == (1, True)


def test_second_holder_of_a_date_waits_while_another_date_does_not() -> None:
    locked, other = run_date_lock_name(date(2031, 1, 3)), run_date_lock_name(date(2031, 1, 4))
    ensure_lock(locked)
    ensure_lock(other)
    with concurrency(locked, strict=True):
        with pytest.raises(TimeoutError), concurrency(locked, strict=True, timeout_seconds=2):
            pass
        with concurrency(other, strict=True, timeout_seconds=30):
            pass


def test_lock_is_held_only_while_a_run_holds_it() -> None:
    run_date = date(2031, 1, 5)
    assert not lock_is_held(run_date)  # no limit yet
    name = run_date_lock_name(run_date)
    ensure_lock(name)
    assert not lock_is_held(run_date)
    with concurrency(name, strict=True):
        assert lock_is_held(run_date)
    assert not lock_is_held(run_date)


def test_the_lock_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    run_date = date(2031, 1, 6)
    name = run_date_lock_name(run_date)
    ensure_lock(name)
    monkeypatch.setenv("ENGAGE_RUN_DATE_LOCK", "false")

    @flow
    def locked_twice() -> str:
        with run_date_lock(run_date), run_date_lock(run_date):  # would wait forever if on
            return "ran"

    with concurrency(name, strict=True):  # held elsewhere: an off lock does not wait for it
        assert locked_twice() == "ran"
