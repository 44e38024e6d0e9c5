"""Running window totals: day after day an incremental run slides the day before's totals
(tasks.score.running_totals), and they equal the totals counted from the daily counts; a
late event in an older day's file, a rerun, a decaying configuration or other weights make
the run count them again."""

import os
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from scoring.config import ScoringConfig
from scoring.metrics.panel_days import panel_vocabulary
from tasks.score.daily_aggregates import (
    StoreState,
    panel_days_from_store,
    plan_refresh,
    refresh_aggregates,
    store_dir,
)
from tasks.score.running_totals import RUNNING_TOTALS_FILE, PeriodTotals, period_totals
from tasks.score.scores import counted_period_totals
from tests.scoring.metrics.test_shared_totals import RUN_DATE, world, world_config
from tests.tasks.score.test_daily_aggregates import valid_events, write

PAIR = ["customer_id", "event_type"]


def assert_same_totals(actual: PeriodTotals, expected: PeriodTotals) -> None:
    for name in ("window", "previous"):
        got, want = getattr(actual, name), getattr(expected, name)
        assert_frame_equal(got.sort(PAIR), want.sort(PAIR), check_exact=True)


def run_day(files: list[str], output: Path, config: ScoringConfig, day: date, work: Path) -> str:
    """An incremental run's store refresh and period totals; checks them against the totals
    counted from the daily counts and returns how they were made."""
    plan = plan_refresh(files, StoreState.read(output), panel_vocabulary(config))
    refresh_aggregates(valid_events(plan.read, work), plan, output, config)
    days = panel_days_from_store(output, config, day)
    totals = period_totals(output, config, day, days, counted_period_totals)
    assert_same_totals(totals, counted_period_totals(days, config, day))
    return totals.how


DAY = pl.col("occurred_at").dt.date()


def events_and_config(seed: int, rows: int, window_days: int) -> tuple[pl.DataFrame, ScoringConfig]:
    """A world's events and its configuration (no decay) with a short window."""
    events = world(seed=seed, rows=rows, customers=rows // 240)[0].collect()
    return events, world_config(None).model_copy(update={"window_days": window_days})


def test_daily_runs_slide_the_totals_and_count_them_again_when_an_older_day_changed(
    tmp_path: Path,
) -> None:
    events, config = events_and_config(seed=5, rows=6000, window_days=5)
    day, output, raw = DAY, tmp_path / "out", tmp_path / "raw"

    def day_file(d: date) -> Path:
        return raw / f"event_date={d}" / "part-0.parquet"

    first = RUN_DATE - timedelta(days=14)
    late = events.filter(day >= first).sample(fraction=0.05, seed=2)
    on_time = events.join(late, on="event_id", how="anti")
    files = [write(on_time.filter(day < first), raw / "history.parquet")]
    hows = []
    for offset in range(15):
        run_date = first + timedelta(days=offset)
        files.append(write(on_time.filter(day == run_date), day_file(run_date)))
        if offset == 8:  # late events appended to the file of three days before
            late_day = run_date - timedelta(days=3)
            rows = pl.concat([pl.read_parquet(day_file(late_day)), late.filter(day == late_day)])
            write(rows, day_file(late_day))
            os.utime(day_file(late_day), ns=(offset, offset))
        hows.append(run_day(files, output, config, run_date, tmp_path / f"w{offset}"))
    assert hows == ["counted"] + ["slid"] * 7 + ["counted"] + ["slid"] * 6
    # a rerun of the date reuses its totals; other weights or a decay count them again
    assert run_day(files, output, config, RUN_DATE, tmp_path / "rerun") == "kept"
    reweighted = config.model_copy(update={"weights": {**config.weights, "signup": 4.0}})
    assert run_day(files, output, reweighted, RUN_DATE, tmp_path / "weights") == "counted"
    decayed = config.model_copy(update={"half_life_days": 3.0})
    kept = (store_dir(output) / RUNNING_TOTALS_FILE).read_bytes()
    assert run_day(files, output, decayed, RUN_DATE, tmp_path / "decay") == "counted"
    assert (store_dir(output) / RUNNING_TOTALS_FILE).read_bytes() == kept  # not replaced


def test_a_rerun_of_an_older_date_neither_slides_nor_replaces_the_kept_totals(
    tmp_path: Path,
) -> None:
    events, config = events_and_config(seed=6, rows=3000, window_days=4)
    day, output, raw = DAY, tmp_path / "out", tmp_path / "raw"
    files = [write(events.filter(day < RUN_DATE - timedelta(days=1)), raw / "history.parquet")]
    for run_date in (RUN_DATE - timedelta(days=1), RUN_DATE):
        files.append(write(events.filter(day == run_date), raw / f"{run_date}.parquet"))
        run_day(files, output, config, run_date, tmp_path / f"{run_date}")
    kept = (store_dir(output) / RUNNING_TOTALS_FILE).read_bytes()
    older = RUN_DATE - timedelta(days=2)
    assert run_day(files, output, config, older, tmp_path / "older") == "counted"
    assert (store_dir(output) / RUNNING_TOTALS_FILE).read_bytes() == kept


def test_kept_totals_that_cannot_be_read_are_counted_again_and_replaced(tmp_path: Path) -> None:
    events, config = events_and_config(seed=7, rows=2400, window_days=3)
    output, raw = tmp_path / "out", tmp_path / "raw"
    files = [write(events.filter(DAY < RUN_DATE), raw / "history.parquet")]
    run_day(files, output, config, RUN_DATE - timedelta(days=1), tmp_path / "before")
    kept = store_dir(output) / RUNNING_TOTALS_FILE
    kept.write_bytes(b"PAR1 not a parquet file")
    files.append(write(events.filter(DAY == RUN_DATE), raw / "today.parquet"))
    assert run_day(files, output, config, RUN_DATE, tmp_path / "today") == "counted"
    rerun = run_day(files, output, config, RUN_DATE, tmp_path / "rerun")
    assert rerun == "kept"  # replaced by readable totals
