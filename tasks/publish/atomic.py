"""All-or-nothing publish of a run date's partitions, with crash recovery by the next run.

Protocol (every step a rename, an fsync'd small file or a lock; nothing is copied):

1. A run stages its tables under `<output>/_staging/<run>/` while holding an exclusive
   `flock` on `<output>/_staging/<run>.lock` (released by the kernel if the process dies).
2. Before publishing, every staged file is validated (Parquet footer and contract schema,
   manifest JSON, and the sha256 the manifest lists for each file) and fsync'd.
3. The commit point: the journal `<output>/_staging/<run>.commit.json` (the tables and the
   inode of each staged partition directory) is written to a temporary name, fsync'd and
   renamed into place. Before it exists a crash rolls back (the staging is discarded); once it
   exists a crash rolls forward (the swap is finished).
4. Each partition is swapped into place with one `renameat2(RENAME_EXCHANGE)` (Linux), so a
   reader sees the whole old or the whole new partition, never a mix and never a gap; where the
   file system cannot exchange, two renames are used (a reader may then briefly miss the
   partition, but never sees a mix). Data tables go first, the manifest last.
5. The journal is removed, then the staging (holding the old partitions) is deleted.

`recover(output)` runs at the start of every run: it finishes or discards the publish of any
staging whose lock nobody holds (a killed run), and leaves live runs alone.
"""

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from scoring.schema import OUTPUT_TABLES, polars_schema

STAGING_DIR = "_staging"
MANIFEST_TABLE = "runs"
MANIFEST_FILE = "manifest.json"
LOCK_SUFFIX = ".lock"
JOURNAL_SUFFIX = ".commit.json"
TEMPORARY_SUFFIX = ".tmp"

FAILPOINT_ENV = "ENGAGE_FAILPOINT"
"""Test hook: when set to a step name below, the process SIGKILLs itself at that step."""

FAILPOINTS: tuple[str, ...] = (
    "publish:validated",
    "publish:journal-temporary",
    "publish:journal-committed",
    "publish:swapped-first",
    "publish:before-last-swap",
    "publish:swapped-all",
    "publish:journal-removed",
)

_held_locks: dict[Path, int] = {}
_logger = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """A staged output that must not be published (unreadable, wrong schema, wrong hash)."""


class OutputNotWritableError(RuntimeError):
    """The output directory cannot take the run's files (full, read-only, under a file, no
    permission): the run stops with nothing published and no staging left behind."""


OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})
"""Errors of writing that always mean the output (a run writes nowhere else)."""
_PATH_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST})
"""Errors that mean the output when they name a path under it."""
_OS_ERROR_TEXT = re.compile(r"os error (\d+)")
"""How Rust libraries (Polars) quote an operating system error in their message."""


def _error_number(error: BaseException) -> int | None:
    if isinstance(error, OSError) and error.errno is not None:
        return error.errno
    quoted = _OS_ERROR_TEXT.search(str(error))
    return int(quoted[1]) if quoted else None


def output_write_problem(error: BaseException, output: str | Path) -> str | None:
    """Why the output could not be written, when `error` (or what caused it) says so: the
    operating system's words for it (e.g. `No space left on device`); None for other errors."""
    root = Path(output).resolve()
    seen: BaseException | None = error
    while seen is not None:
        number = _error_number(seen)
        filename = getattr(seen, "filename", None)
        under = filename is not None and Path(os.fsdecode(filename)).resolve().is_relative_to(root)
        if number in OUTPUT_ERRNOS or (number in _PATH_ERRNOS and under):
            return os.strerror(number)
        seen = seen.__cause__ or seen.__context__
    return None


def names_output_problem(text: str) -> bool:
    """Whether a message quotes an error that always means the output (a log line of a failed
    task, say)."""
    return any(os.strerror(number) in text for number in OUTPUT_ERRNOS)


def not_writable(output: str | Path, problem: str) -> OutputNotWritableError:
    """The one-line error for an output that cannot be written."""
    return OutputNotWritableError(
        f"output {output} cannot be written: {problem}; free space or choose another --output "
        "(nothing was published: earlier outputs are untouched)"
    )


def check_output_writable(output: str | Path) -> None:
    """Raise OutputNotWritableError unless `output` is (or can be created as) a directory a
    file can be written in; probes with a small temporary file, creating nothing else."""
    target = Path(output).absolute()
    existing = next(p for p in (target, *target.parents) if p.exists())
    if not existing.is_dir():
        what = "is a file" if existing == target else f"is under the file {existing}"
        raise OutputNotWritableError(
            f"output {output} {what}, not a directory; choose another --output"
        )
    try:
        with tempfile.TemporaryFile(dir=existing) as probe:
            probe.write(b"\0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        raise not_writable(output, error.strerror or str(error)) from error


def abandon(staging: str | Path) -> None:
    """What a failed run leaves of its staging: nothing before the commit point (discarded);
    after it, the journal and staging the next run rolls forward."""
    staging = Path(staging)
    journal = _journal_path(staging)
    if not journal.exists():
        journal.with_name(journal.name + TEMPORARY_SUFFIX).unlink(missing_ok=True)
        discard(staging)


def failpoint(name: str) -> None:
    """Kill this process (SIGKILL: no cleanup at all) when ENGAGE_FAILPOINT names this step."""
    if os.environ.get(FAILPOINT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def partition_dir(root: str | Path, table: str, run_date: date) -> Path:
    """Where a table's partition for a run date lives under `root`."""
    return Path(root) / table / f"run_date={run_date.isoformat()}"


def fsync_path(path: Path) -> None:
    """Flush a file or a directory entry to disk (survives power loss, not only SIGKILL)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


# --- locks ------------------------------------------------------------------------------------


def _try_lock(lock_path: Path) -> int | None:
    """An exclusive lock on `lock_path` (created if missing), or None if a live run holds it.

    After locking, the path must still name the locked file: another process may have
    unlinked it between our open and our lock.
    """
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    try:
        same = os.stat(lock_path).st_ino == os.fstat(descriptor).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        os.close(descriptor)
        return None
    return descriptor


def _release(lock_path: Path, descriptor: int) -> None:
    try:
        with contextlib.suppress(FileNotFoundError):
            lock_path.unlink()
    finally:
        os.close(descriptor)


def new_staging_dir(output: str | Path, run_date: date) -> Path:
    """A fresh private staging directory, locked for this process until publish or discard.

    Recovers what killed runs left behind first (see `recover`).
    """
    root = Path(output) / STAGING_DIR
    recover(output)
    for _ in range(5):  # a concurrent cleanup may remove an empty _staging between two steps
        try:
            root.mkdir(parents=True, exist_ok=True)
            staging = root / f"{run_date.isoformat()}-{uuid.uuid4().hex[:12]}"
            lock_path = staging.with_name(staging.name + LOCK_SUFFIX)
            descriptor = _try_lock(lock_path)
            if descriptor is None:
                continue
            staging.mkdir()
            _held_locks[staging] = descriptor
            return staging
        except FileNotFoundError:
            continue
    raise OSError(f"{root}: cannot create a staging directory (is the output writable?)")


def discard(staging: str | Path) -> None:
    """Drop a staging directory that will not be published, and release its lock."""
    staging = Path(staging)
    shutil.rmtree(staging, ignore_errors=True)
    descriptor = _held_locks.pop(staging, None)
    if descriptor is not None:
        _release(staging.with_name(staging.name + LOCK_SUFFIX), descriptor)
    _remove_if_empty(staging.parent)


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()


# --- validation -------------------------------------------------------------------------------


def publish_order(tables: Iterable[str]) -> list[str]:
    """The order partitions are swapped in: data tables by name, the manifest last."""
    return sorted(tables, key=lambda table: (table == MANIFEST_TABLE, table))


def staged_partitions(staging: Path, run_date: date) -> dict[str, Path]:
    """table -> staged partition directory of the run date, in `publish_order`."""
    found = {p.parent.name: p for p in staging.glob(f"*/run_date={run_date.isoformat()}")}
    return {table: found[table] for table in publish_order(found)}


def describe_outputs(staging: str | Path, run_date: date) -> dict[str, dict[str, Any]]:
    """For every staged Parquet file: its path under the output, rows and sha256 (for the
    manifest, so a reader can check that the files it reads belong together)."""
    staging = Path(staging)
    described = {}
    for table, directory in staged_partitions(staging, run_date).items():
        for file in sorted(directory.glob("*.parquet")):
            key = f"{table}/{file.name}" if file.name != "part-0.parquet" else table
            described[key] = {
                "path": file.relative_to(staging).as_posix(),
                "rows": pq.read_metadata(file).num_rows,
                "sha256": file_sha256(file),
            }
    return described


def _check_parquet(table: str, file: Path) -> None:
    try:
        schema = pq.read_schema(file)
    except Exception as error:  # any pyarrow error means the file is not publishable
        raise PublishError(
            f"{file}: staged {table} file is not readable Parquet: {error}"
        ) from error
    contract = OUTPUT_TABLES.get(table)
    if contract is None:
        return
    actual = pl.DataFrame(pl.from_arrow(schema.empty_table())).schema
    for name, dtype in polars_schema(contract).items():
        if name not in actual:
            raise PublishError(f"{file}: staged {table} file lacks the contract column {name!r}")
        if actual[name] != dtype:
            raise PublishError(
                f"{file}: staged {table} column {name!r} is {actual[name]}, the contract says "
                f"{dtype}"
            )


def validate_staging(staging: Path, run_date: date) -> dict[str, Path]:
    """Check every staged file before the commit; returns the partitions to publish."""
    partitions = staged_partitions(staging, run_date)
    if not partitions:
        raise PublishError(f"{staging}: nothing staged for {run_date}")
    for table, directory in partitions.items():
        for file in sorted(directory.glob("*.parquet")):
            _check_parquet(table, file)
    manifest_path = partitions.get(MANIFEST_TABLE, staging / "-") / MANIFEST_FILE
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text())
        except ValueError as error:
            raise PublishError(f"{manifest_path}: staged manifest is not JSON: {error}") from error
        for name, described in (manifest.get("outputs") or {}).items():
            file = staging / described["path"]
            if not file.exists() or file_sha256(file) != described["sha256"]:
                raise PublishError(
                    f"{file}: staged {name} does not match the sha256 in the manifest"
                )
    return partitions


# --- swap -------------------------------------------------------------------------------------

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)


def exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    if _renameat2 is None:
        return False
    result = _renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), f"{first} <-> {second}")


def _swap_in(staged: Path, target: Path, staged_inode: int, retired: Path) -> None:
    """Put the staged partition at `target`; idempotent (a no-op when already done)."""
    with contextlib.suppress(FileNotFoundError):
        if target.stat().st_ino == staged_inode:
            return
    if not staged.exists():
        raise PublishError(
            f"{staged}: staged partition missing and {target} is not the new one; "
            "the journal cannot be rolled forward"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        if exchange(staged, target):
            fsync_path(target.parent)
            return
        retired.parent.mkdir(parents=True, exist_ok=True)
        target.rename(retired)
    staged.rename(target)
    fsync_path(target.parent)


def _journal_path(staging: Path) -> Path:
    return staging.with_name(staging.name + JOURNAL_SUFFIX)


def _write_journal(staging: Path, run_date: date, partitions: dict[str, Path]) -> Path:
    journal = _journal_path(staging)
    entries = {
        "run_date": run_date.isoformat(),
        "staging": staging.name,
        "tables": {table: {"inode": p.stat().st_ino} for table, p in partitions.items()},
    }
    temporary = journal.with_name(journal.name + TEMPORARY_SUFFIX)
    with temporary.open("w") as stream:
        json.dump(entries, stream, sort_keys=True)
        stream.flush()
        os.fsync(stream.fileno())
    failpoint("publish:journal-temporary")
    temporary.rename(journal)  # the commit point
    fsync_path(journal.parent)
    return journal


def _roll_forward(output: Path, staging: Path, journal: Path) -> list[Path]:
    """Swap every partition the journal lists into place, in `publish_order` (the journal is
    JSON with sorted keys: its own order is not the publish order)."""
    entries = json.loads(journal.read_text())
    run_date = date.fromisoformat(entries["run_date"])
    tables = publish_order(entries["tables"])
    published = []
    for index, table in enumerate(tables):
        target = partition_dir(output, table, run_date)
        staged = partition_dir(staging, table, run_date)
        if index == len(tables) - 1:
            failpoint("publish:before-last-swap")
        _swap_in(staged, target, entries["tables"][table]["inode"], staging / "_retired" / table)
        published.append(target)
        if index == 0:
            failpoint("publish:swapped-first")
    failpoint("publish:swapped-all")
    return published


def _remove_journal(journal: Path) -> None:
    journal.unlink()
    fsync_path(journal.parent)
    failpoint("publish:journal-removed")


def _clean_up_after_commit(staging: Path, journal: Path) -> None:
    """Remove the journal and the staging of a publish whose partitions are all in place. The
    publish is done: a failure here (a read-only output, say) is a warning, and the next run's
    `recover` finishes the clean-up."""
    steps: list[tuple[Callable[[Path], None], Path]] = [
        (_remove_journal, journal),
        (discard, staging),
    ]
    for clean_up, target in steps:
        try:
            clean_up(target)
        except OSError as error:
            _logger.warning(
                "%s: published, but removing it failed (%s); the next run finishes the clean-up",
                target,
                error,
            )


def _sync_tree(directory: Path) -> None:
    for path in sorted(directory.rglob("*"), reverse=True):
        fsync_path(path)
    fsync_path(directory)


def _sync_partitions(staging: Path, partitions: dict[str, Path]) -> None:
    """fsync what the commit publishes: each staged partition, its table's directory and the
    staging's. The run's work files beside them (the valid events: GBs on a large run) are
    never published, so never flushed to disk."""
    for directory in partitions.values():
        _sync_tree(directory)
        fsync_path(directory.parent)
    fsync_path(staging)


def publish(staging: str | Path, output: str | Path, run_date: date) -> list[Path]:
    """Validate the staged run date, then swap all its partitions into place (all or nothing
    across a crash: the next run finishes a committed publish or discards an uncommitted one).
    """
    staging, output = Path(staging), Path(output)
    partitions = validate_staging(staging, run_date)
    _sync_partitions(staging, partitions)
    failpoint("publish:validated")
    journal = _write_journal(staging, run_date, partitions)
    failpoint("publish:journal-committed")
    published = _roll_forward(output, staging, journal)
    _clean_up_after_commit(staging, journal)
    return published


# --- recovery ---------------------------------------------------------------------------------


def _leftover_runs(root: Path) -> Iterator[str]:
    names = set()
    for entry in root.iterdir():
        name = entry.name
        for suffix in (JOURNAL_SUFFIX + TEMPORARY_SUFFIX, JOURNAL_SUFFIX, LOCK_SUFFIX):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        names.add(name)
    yield from sorted(names)


def recover(output: str | Path) -> list[str]:
    """Finish (journal present) or discard (no journal) every staging a dead run left behind.

    Stagings whose lock a live process holds are left alone. Returns what was done, e.g.
    `rolled forward 2026-03-31-ab12...` or `discarded ...`.
    """
    output = Path(output)
    root = output / STAGING_DIR
    if not root.is_dir():
        return []
    actions = []
    for name in _leftover_runs(root):
        staging = root / name
        if staging in _held_locks:
            continue
        lock_path = root / (name + LOCK_SUFFIX)
        descriptor = _try_lock(lock_path)
        if descriptor is None:
            continue
        try:
            journal = _journal_path(staging)
            if journal.exists():
                _roll_forward(output, staging, journal)
                _remove_journal(journal)
                actions.append(f"rolled forward {name}")
            elif staging.exists():
                actions.append(f"discarded {name}")
            with contextlib.suppress(FileNotFoundError):
                journal.with_name(journal.name + TEMPORARY_SUFFIX).unlink()
            shutil.rmtree(staging, ignore_errors=True)
        finally:
            _release(lock_path, descriptor)
    _remove_if_empty(root)
    return actions
