"""All-or-nothing publish: a crash at every step is rolled back or forward by `recover`."""

import errno
import logging
import os
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from scoring.schema import CONTRIBUTIONS, SCORES
from tasks.publish import atomic as atomic_publish
from tasks.publish.atomic import (
    FAILPOINTS,
    PublishError,
    exchange,
    new_staging_dir,
    publish,
    recover,
)
from tasks.publish.write import write_manifest, write_partition, write_staged

RUN_DATE = date(2026, 3, 31)
COMMITTED = {
    "publish:journal-committed",
    "publish:swapped-first",
    "publish:before-last-swap",
    "publish:swapped-all",
    "publish:journal-removed",
}


class Crash(BaseException):
    """Stands in for SIGKILL inside the test process."""


def _scores(customers: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": customers,
            "score": [1.0] * len(customers),
            "tier": ["very_disengaged"] * len(customers),
            "event_count": [1] * len(customers),
            "last_event_at": [None] * len(customers),
        }
    )


def _contributions(customers: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": customers,
            "event_type": ["login"] * len(customers),
            "count": [1] * len(customers),
            "weight": [1.0] * len(customers),
            "contribution": [1.0] * len(customers),
        }
    )


def _stage(output: Path, customers: list[str]) -> Path:
    staging = new_staging_dir(output, RUN_DATE)
    write_partition(_scores(customers), "scores", SCORES, staging, RUN_DATE)
    write_partition(_contributions(customers), "contributions", CONTRIBUTIONS, staging, RUN_DATE)
    write_manifest({"version": customers}, staging, RUN_DATE)
    return staging


def _version(output: Path) -> dict[str, list[str]]:
    """Customers in each published table (one version per table, or a failure)."""
    tables = {}
    for table in ("scores", "contributions"):
        directory = output / table / "run_date=2026-03-31"
        assert [p.name for p in directory.iterdir()] == ["part-0.parquet"]
        tables[table] = pl.read_parquet(directory)["customer_id"].to_list()
    return tables


def _die(staging: Path) -> None:
    """What the kernel does when the process dies: its lock goes away."""
    os.close(atomic_publish._held_locks.pop(staging))


def test_exchange_swaps_two_directories_atomically(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "from-a").touch()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "from-b").touch()
    assert exchange(tmp_path / "a", tmp_path / "b"), "RENAME_EXCHANGE unsupported here"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["from-b"]
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["from-a"]


@pytest.mark.parametrize("step", FAILPOINTS)
def test_crash_at_every_step_is_recovered_to_one_whole_version(
    step: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "out"
    publish(_stage(output, ["old1", "old2"]), output, RUN_DATE)
    staging = _stage(output, ["new"])

    def crash_at(name: str) -> None:
        if name == step:
            raise Crash(name)

    monkeypatch.setattr(atomic_publish, "failpoint", crash_at)
    with pytest.raises(Crash):
        publish(staging, output, RUN_DATE)
    _die(staging)
    monkeypatch.undo()

    # right after the crash each partition is one whole version (old or new), never a mix
    for customers in _version(output).values():
        assert customers in (["old1", "old2"], ["new"])
    # and a reader that waits for the new manifest never reads an old table beside it
    if '"new"' in (output / "runs" / "run_date=2026-03-31" / "manifest.json").read_text():
        assert _version(output) == {"scores": ["new"], "contributions": ["new"]}

    actions = recover(output)
    expected = ["new"] if step in COMMITTED else ["old1", "old2"]
    assert _version(output) == {"scores": expected, "contributions": expected}
    manifest = (output / "runs" / "run_date=2026-03-31" / "manifest.json").read_text()
    assert ('"new"' in manifest) == (step in COMMITTED)
    assert not (output / "_staging").exists()
    rolled_forward = step in COMMITTED and step != "publish:journal-removed"
    assert actions == [f"{'rolled forward' if rolled_forward else 'discarded'} {staging.name}"]


def test_recover_leaves_a_live_run_alone(tmp_path: Path) -> None:
    output = tmp_path / "out"
    staging = _stage(output, ["a"])
    # another process (here: a fresh lock attempt) must not touch a staging whose lock is held
    atomic_publish._held_locks.pop(staging)  # forget it in-process, keep the descriptor open
    assert recover(output) == []
    assert staging.exists()


def test_recover_discards_an_uncommitted_staging_of_a_dead_run(tmp_path: Path) -> None:
    output = tmp_path / "out"
    staging = _stage(output, ["a"])
    _die(staging)
    assert recover(output) == [f"discarded {staging.name}"]
    assert not (output / "_staging").exists()
    assert not (output / "scores").exists()


def test_a_corrupt_staged_file_is_never_published(tmp_path: Path) -> None:
    output = tmp_path / "out"
    publish(_stage(output, ["old"]), output, RUN_DATE)
    staging = _stage(output, ["new"])
    part = staging / "scores" / "run_date=2026-03-31" / "part-0.parquet"
    part.write_bytes(part.read_bytes()[:-20])
    with pytest.raises(PublishError, match=r"part-0\.parquet: staged scores file is not readable"):
        publish(staging, output, RUN_DATE)
    assert _version(output) == {"scores": ["old"], "contributions": ["old"]}


def test_a_staged_file_changed_after_the_manifest_is_never_published(tmp_path: Path) -> None:
    output = tmp_path / "out"
    staging = _stage(output, ["new"])
    write_partition(_scores(["other"]), "scores", SCORES, staging, RUN_DATE)
    with pytest.raises(PublishError, match="does not match the sha256 in the manifest"):
        publish(staging, output, RUN_DATE)
    assert not (output / "scores").exists()


def test_a_staged_file_off_contract_is_never_published(tmp_path: Path) -> None:
    output = tmp_path / "out"
    staging = new_staging_dir(output, RUN_DATE)
    wrong = _scores(["a"]).with_columns(pl.col("event_count").cast(pl.Int32))
    write_partition(wrong, "scores", None, staging, RUN_DATE)
    with pytest.raises(PublishError, match="'event_count' is Int32, the contract says Int64"):
        publish(staging, output, RUN_DATE)


def test_the_manifest_is_swapped_in_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 26 #5: the journal's sorted keys made `runs` the 2nd of these 3 swaps."""
    output = tmp_path / "out"
    staging = _stage(output, ["new"])
    swapped = []
    swap_in = atomic_publish._swap_in
    monkeypatch.setattr(
        atomic_publish,
        "_swap_in",
        lambda staged, *rest: swapped.append(staged.parent.name) or swap_in(staged, *rest),
    )
    publish(staging, output, RUN_DATE)
    assert swapped == ["contributions", "scores", "runs"]


def test_every_published_file_is_synced_before_the_commit_and_no_work_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "out"
    staging = _stage(output, ["a"])
    work_file = write_staged(pl.DataFrame({"event_id": ["e1"]}), staging / "valid_events.parquet")
    synced: list[Path] = []
    committed: list[set[Path]] = []
    monkeypatch.setattr(atomic_publish, "fsync_path", synced.append)
    write_journal = atomic_publish._write_journal
    monkeypatch.setattr(
        atomic_publish,
        "_write_journal",
        lambda *args: committed.append(set(synced)) or write_journal(*args),
    )
    published = [p for p in staging.rglob("*") if "run_date=" in str(p.relative_to(staging))]
    publish(staging, output, RUN_DATE)
    assert len(published) == 6  # three partitions and their files
    assert set(published) | {staging} <= committed[0]
    assert work_file not in synced


def test_a_clean_up_failure_after_the_commit_point_is_only_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 26 #11: the output turned read-only right after the commit point; every partition
    was in place, yet unlinking the lock failed the run."""
    output = tmp_path / "out"
    staging = _stage(output, ["new"])

    def read_only(*_: object, **__: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    def turn_read_only_at_the_commit_point(name: str) -> None:
        if name == "publish:journal-committed":
            for call in ("unlink", "rmdir", "remove"):
                monkeypatch.setattr(os, call, read_only)

    monkeypatch.setattr(atomic_publish, "failpoint", turn_read_only_at_the_commit_point)
    with caplog.at_level(logging.WARNING, logger=atomic_publish.__name__):
        published = publish(staging, output, RUN_DATE)
    monkeypatch.undo()
    assert [p.parent.name for p in published] == ["contributions", "scores", "runs"]
    assert _version(output) == {"scores": ["new"], "contributions": ["new"]}
    assert "published, but removing it failed ([Errno 30] Read-only file system)" in caplog.text
    assert staging not in atomic_publish._held_locks  # the lock's descriptor is closed
    # the next run finishes the clean-up
    assert recover(output) == [f"rolled forward {staging.name}"]
    assert not (output / "_staging").exists()
