"""The daily aggregate store: an incremental history of daily runs (new days, late events
appended to old files or arriving in new ones, a vanished file, changed configurations,
a rerun of an old date) scores exactly like a full read of the raw events."""

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from scoring.config import ScoringConfig, TierBoundaries
from scoring.schema import SOURCE_FILE, UTC_TIMESTAMP
from tasks.score.daily_aggregates import (
    AggregateStoreError,
    StoreState,
    plan_refresh,
    refresh_aggregates,
    window_totals_from_store,
)
from tasks.score.scores import ScoreReport, score_events, score_totals

FIRST_DAY = date(2026, 3, 1)
CONFIG = ScoringConfig(window_days=7, weights={"login": 1, "invite_sent": 10, "downgrade": -15})


def day_events(rng: np.random.Generator, day: date, rows: int, tag: str) -> pl.DataFrame:
    """`rows` events of `day` (UTC), ids unique per tag; customers Zipf-skewed."""
    start = datetime.combine(day, datetime.min.time(), UTC)
    return pl.DataFrame(
        {
            "event_id": [f"{tag}-{i}" for i in range(rows)],
            "customer_id": [f"c{k % 40:02d}" for k in rng.zipf(1.4, rows)],
            "event_type": rng.choice(["login", "invite_sent", "page_view", "downgrade"], rows),
            "occurred_at": [
                start + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, rows)
            ],
        },
        schema_overrides={"occurred_at": UTC_TIMESTAMP},
    )


def write(frame: pl.DataFrame, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    return str(path)


def valid_events(files: list[str], staging: Path) -> str:
    """What validation stages for these files: their rows with the source file."""
    staging.mkdir(parents=True, exist_ok=True)
    frames = [pl.read_parquet(f).with_columns(pl.lit(f).alias(SOURCE_FILE)) for f in files]
    target = staging / "valid_events.parquet"
    pl.concat(frames, how="diagonal_relaxed").write_parquet(target)  # files' columns may differ
    return str(target)


def full_run(files: list[str], config: ScoringConfig, run_date: date, staging: Path) -> ScoreReport:
    valid = valid_events(files, staging)
    return score_events(pl.scan_parquet(valid), config, run_date, str(staging))


def incremental_run(
    files: list[str], output: Path, config: ScoringConfig, run_date: date, staging: Path
) -> tuple[ScoreReport, list[str]]:
    plan = plan_refresh(files, StoreState.read(output))
    refresh_aggregates(valid_events(plan.read, staging), plan, output)
    totals, last_events = window_totals_from_store(output, config, run_date)
    return score_totals(totals, last_events, config, run_date, str(staging)), plan.read


def assert_same_outputs(full: ScoreReport, incremental: ScoreReport) -> None:
    for table in ("scores_file", "contributions_file"):
        assert (
            Path(getattr(full, table)).read_bytes()
            == Path(getattr(incremental, table)).read_bytes()
        )
    assert full.unweighted_event_types == incremental.unweighted_event_types
    assert full.tiers == incremental.tiers


def test_incremental_history_equals_full_recompute(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    raw, output = tmp_path / "raw", tmp_path / "out"
    files: list[str] = []
    runs = 0
    for offset in range(12):
        day = FIRST_DAY + timedelta(days=offset)
        frame = day_events(rng, day, 120, f"d{offset}")
        if offset == 5:  # a re-delivered event inside the day's file counts once
            frame = pl.concat([frame, frame.head(3)])
        files.append(write(frame, raw / f"event_date={day}" / "part-0.parquet"))
        if offset >= 4:  # late events appended to the file of 3 days ago
            late_day = day - timedelta(days=3)
            late_file = raw / f"event_date={late_day}" / "part-0.parquet"
            late = day_events(rng, late_day, 15, f"late{offset}")
            write(pl.concat([pl.read_parquet(late_file), late]), late_file)
        if offset == 8:  # late events of several old days arriving in a file of their own
            old = [day_events(rng, FIRST_DAY + timedelta(days=d), 10, f"x{d}") for d in (0, 2, 6)]
            files.append(write(pl.concat(old), raw / "late" / "batch-1.parquet"))
        runs += 1
        full = full_run(files, CONFIG, day, tmp_path / f"full{runs}")
        incremental, read = incremental_run(files, output, CONFIG, day, tmp_path / f"inc{runs}")
        assert_same_outputs(full, incremental)
        if offset >= 4:  # only the new day's file and the one with late events are read
            expected_read = {
                files[-1],
                str(raw / f"event_date={day - timedelta(days=3)}" / "part-0.parquet"),
            }
            if offset == 8:
                expected_read.add(files[-2])
            assert set(read) == expected_read
    assert full.customers > 20 and full.events_in_window > 500

    # configuration changes are scored from the same aggregates: nothing is re-read
    last_day = FIRST_DAY + timedelta(days=11)
    for config in [
        CONFIG.model_copy(update={"weights": {"login": 2.5, "page_view": 0.1}}),
        CONFIG.model_copy(update={"window_days": 365}),  # more days than the history
        CONFIG.model_copy(update={"half_life_days": 3.0}),
        CONFIG.model_copy(update={"tiers": TierBoundaries(very_disengaged_max=10)}),
    ]:
        runs += 1
        full = full_run(files, config, last_day, tmp_path / f"full{runs}")
        totals, last_events = window_totals_from_store(output, config, last_day)
        incremental = score_totals(
            totals, last_events, config, last_day, str(tmp_path / f"i{runs}")
        )
        assert_same_outputs(full, incremental)

    # a rerun of an older date ignores the later days (last_event_at from the daily counts)
    old_day = FIRST_DAY + timedelta(days=6)
    full = full_run(files, CONFIG, old_day, tmp_path / "full-old")
    incremental, _ = incremental_run(files, output, CONFIG, old_day, tmp_path / "inc-old")
    assert_same_outputs(full, incremental)


def test_rewritten_and_vanished_files_rebuild_what_they_fed(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    raw, output = tmp_path / "raw", tmp_path / "out"
    files = [
        write(day_events(rng, FIRST_DAY + timedelta(days=d), 80, f"d{d}"), raw / f"{d}.parquet")
        for d in range(5)
    ]
    run_date = FIRST_DAY + timedelta(days=4)
    incremental_run(files, output, CONFIG, run_date, tmp_path / "s1")
    # a file corrected in place: fewer rows (a customer's latest event may be gone)
    shrunk = pl.read_parquet(files[4]).head(10)
    write(shrunk, Path(files[4]))
    os.utime(files[4], ns=(1, 1))
    incremental, read = incremental_run(files, output, CONFIG, run_date, tmp_path / "s2")
    assert read == [files[4]]
    assert_same_outputs(full_run(files, CONFIG, run_date, tmp_path / "f2"), incremental)
    # a file removed from the input: its aggregates go too
    Path(files[3]).unlink()
    files = files[:3] + files[4:]
    incremental, _ = incremental_run(files, output, CONFIG, run_date, tmp_path / "s3")
    assert_same_outputs(full_run(files, CONFIG, run_date, tmp_path / "f3"), incremental)
    assert len(StoreState.read(output).files) == 4


@pytest.mark.parametrize(
    "torn",
    [
        "{not json",
        '{"version": 1}',
        '{"version": 1, "files": []}',
        '{"version": 1, "files": {"a.parquet": {"first_day": "2026-02-30", "last_day": null}}}',
        '{"version": 1, "files": {"a.parquet": 7}}',
    ],
)
def test_unreadable_state_names_the_file_and_the_fix(tmp_path: Path, torn: str) -> None:
    state = tmp_path / "_state" / "daily_aggregates" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(torn)
    with pytest.raises(
        AggregateStoreError, match=r"state\.json: unreadable aggregate state.*delete"
    ):
        StoreState.read(tmp_path)


def test_torn_latest_events_are_counted_again_from_the_daily_counts(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    raw, output = tmp_path / "raw", tmp_path / "out"
    files = []
    for offset in range(4):
        day = FIRST_DAY + timedelta(days=offset)
        frame = day_events(rng, day, 60, f"d{offset}")
        files.append(write(frame, raw / f"event_date={day}" / "part-0.parquet"))
        if offset == 2:  # the kept latest events torn between two daily runs
            incremental_run(files, output, CONFIG, day, tmp_path / f"i{offset}")
            kept = output / "_state" / "daily_aggregates" / "last_events.parquet"
            kept.write_bytes(kept.read_bytes()[:100])
    run_date = FIRST_DAY + timedelta(days=3)
    incremental, read = incremental_run(files, output, CONFIG, run_date, tmp_path / "i3")
    assert read == [files[3]]
    assert_same_outputs(full_run(files, CONFIG, run_date, tmp_path / "f3"), incremental)


@pytest.mark.parametrize("damage", ["torn", "missing"])
def test_a_damaged_daily_table_names_the_store_and_the_fix(tmp_path: Path, damage: str) -> None:
    from tasks.score.scores import score_from_aggregates

    rng = np.random.default_rng(3)
    day = FIRST_DAY + timedelta(days=1)
    files = [
        write(day_events(rng, d, 40, str(d)), tmp_path / "raw" / f"{d}.parquet")
        for d in (FIRST_DAY, day)
    ]
    output = tmp_path / "out"
    incremental_run(files, output, CONFIG, day, tmp_path / "s1")
    counts = sorted((output / "_state" / "daily_aggregates" / "event_counts").glob("*.parquet"))
    if damage == "torn":
        counts[0].write_bytes(counts[0].read_bytes()[:50])
    else:
        counts[0].unlink()
    with pytest.raises(AggregateStoreError, match=r"daily_aggregates: a file of the daily aggre"):
        score_from_aggregates.fn(str(output), CONFIG, day, str(tmp_path / "s2"))


def test_a_metric_can_keep_its_own_daily_table(tmp_path: Path, monkeypatch) -> None:
    """A metric registers a daily table (here: active customers per day, the DAU of
    stickiness); the store keeps it per input file and serves a window of it."""
    from tasks.score import daily_aggregates

    def daily_active(events: pl.LazyFrame) -> pl.LazyFrame:
        return events.select(
            "customer_id", pl.col("occurred_at").dt.date().alias("event_date")
        ).unique()

    schema = pl.Schema({"customer_id": pl.String(), "event_date": pl.Date()})
    monkeypatch.setitem(daily_aggregates.DAILY_TABLES, "active_customers", (daily_active, schema))
    rng = np.random.default_rng(8)
    raw, output = tmp_path / "raw", tmp_path / "out"
    files = [
        write(day_events(rng, FIRST_DAY + timedelta(days=d), 50, f"d{d}"), raw / f"{d}.parquet")
        for d in range(4)
    ]
    incremental_run(files[:3], output, CONFIG, FIRST_DAY + timedelta(days=2), tmp_path / "s1")
    incremental_run(files, output, CONFIG, FIRST_DAY + timedelta(days=3), tmp_path / "s2")
    first, last = FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=3)
    kept = daily_aggregates.scan_daily(output, "active_customers", first, last).collect()
    expected = (
        pl.concat([pl.read_parquet(f) for f in files])
        .select("customer_id", pl.col("occurred_at").dt.date().alias("event_date"))
        .unique()
        .filter(pl.col("event_date").is_between(first, last))
    )
    assert kept.sort(pl.all()).equals(expected.sort(pl.all()))
    assert expected.height > 30


def test_a_file_changed_while_a_run_reads_it_is_read_again(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    path = write(day_events(rng, FIRST_DAY, 30, "a"), tmp_path / "raw" / "0.parquet")
    newest = write(day_events(rng, FIRST_DAY, 30, "n"), tmp_path / "raw" / "1.parquet")
    output = tmp_path / "out"
    plan = plan_refresh([path, newest], StoreState.read(output))
    valid = valid_events(plan.read, tmp_path / "s1")
    write(day_events(rng, FIRST_DAY, 40, "b"), Path(path))  # lands after the run read it
    os.utime(path, ns=(2, 2))
    refresh_aggregates(valid, plan, output)
    assert plan_refresh([path, newest], StoreState.read(output)).read == [path]
