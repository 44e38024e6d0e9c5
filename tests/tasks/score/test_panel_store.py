"""Incremental runs compute the metric panel from the daily aggregate store: day after day,
with late events appended to old files, a late batch of several days, a vanished file, a
rerun of an older date and a change of the metric vocabulary, they stage the customer_metrics
and segment_metrics a full read of the same files stages, byte for byte."""

import os
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from scoring.config import MetricsConfig, ScoringConfig
from scoring.metrics.panel_days import panel_vocabulary
from tasks.publish.write import PART_FILE, partition_dir
from tasks.score.daily_aggregates import StoreState, plan_refresh, refresh_aggregates
from tasks.score.metrics import compute_metrics, compute_metrics_from_aggregates
from tasks.score.scores import score_customers, score_from_aggregates
from tests.scoring.metrics.test_shared_totals import RUN_DATE, world, world_config
from tests.tasks.score.test_daily_aggregates import valid_events, write

TABLES = ("scores", "contributions", "customer_metrics", "segment_metrics")


def staged(staging: Path, run_date: date) -> dict[str, bytes]:
    return {t: (partition_dir(staging, t, run_date) / PART_FILE).read_bytes() for t in TABLES}


def full_run(
    files: list[str], config: ScoringConfig, run_date: date, staging: Path, customers: str
) -> dict[str, bytes]:
    valid = valid_events(files, staging)
    scored = score_customers.fn(valid, config, run_date, str(staging), keep_totals=True)
    compute_metrics.fn(valid, config, run_date, str(staging), customers, scored.totals_file)
    return staged(staging, run_date)


def incremental_run(
    files: list[str],
    output: Path,
    config: ScoringConfig,
    run_date: date,
    staging: Path,
    customers: str,
) -> tuple[dict[str, bytes], list[str]]:
    plan = plan_refresh(files, StoreState.read(output), panel_vocabulary(config))
    refresh_aggregates(valid_events(plan.read, staging), plan, output, config)
    scored = score_from_aggregates.fn(str(output), config, run_date, str(staging), True)
    assert scored.totals_file is not None
    compute_metrics_from_aggregates.fn(
        str(output), config, run_date, str(staging), scored.totals_file, customers
    )
    return staged(staging, run_date), plan.read


def test_incremental_panel_equals_the_panel_of_a_full_read(tmp_path: Path) -> None:
    events, table = world(seed=3, rows=9000, customers=40)
    events = events.collect()
    customers = write(table.collect(), tmp_path / "customers.parquet")
    config = world_config(None, clv_lookback_days=45)
    raw, output = tmp_path / "raw", tmp_path / "out"
    day = pl.col("occurred_at").dt.date()

    def day_file(d: date) -> Path:
        return raw / f"event_date={d}" / "part-0.parquet"

    first_run = RUN_DATE - timedelta(days=5)
    history = events.filter(day < first_run)
    files = [write(history, raw / "history.parquet")]
    late = events.filter(day >= first_run).sample(fraction=0.08, seed=1, shuffle=True)
    on_time = events.filter(day >= first_run).join(late, on="event_id", how="anti")
    for offset in range(6):
        run_date = first_run + timedelta(days=offset)
        files.append(write(on_time.filter(day == run_date), day_file(run_date)))
        if offset == 2:  # late events of the two days before appended to their files
            for back in (1, 2):
                late_day = run_date - timedelta(days=back)
                rows = pl.concat(
                    [pl.read_parquet(day_file(late_day)), late.filter(day == late_day)]
                )
                write(rows, day_file(late_day))
                os.utime(day_file(late_day), ns=(offset, offset))
        if offset == 4:  # the other late events arrive in a batch file of their own
            files.append(
                write(late.filter(day < run_date - timedelta(days=2)), raw / "late.parquet")
            )
        full = full_run(files, config, run_date, tmp_path / f"full{offset}", customers)
        incremental, read = incremental_run(
            files, output, config, run_date, tmp_path / f"inc{offset}", customers
        )
        assert incremental == full, run_date
        if offset == 5:
            assert read == [files[-1]]  # only the new day's file
    # a vanished file takes its days with it; an older date is rerun from the store
    files.remove(str(day_file(first_run + timedelta(days=3))))
    old_date = RUN_DATE - timedelta(days=2)
    full = full_run(files, config, old_date, tmp_path / "full-old", customers)
    incremental, _ = incremental_run(
        files, output, config, old_date, tmp_path / "inc-old", customers
    )
    assert incremental == full
    # another metric vocabulary: every file is read again and the panel's tables rebuilt
    renamed = config.model_copy(
        update={
            "metrics": MetricsConfig(
                **{**config.metric_settings.model_dump(), "nps_event": "csat_response"}
            )
        }
    )
    full = full_run(files, renamed, RUN_DATE, tmp_path / "full-voc", customers)
    incremental, read = incremental_run(
        files, output, renamed, RUN_DATE, tmp_path / "inc-voc", customers
    )
    assert sorted(read) == sorted(files)
    assert incremental == full
