"""Running window totals: what an incremental daily run keeps of its window's totals so that
the next day's run slides them by one day instead of aggregating 2 x window_days days of
daily counts again.

```
<output>/_state/daily_aggregates/running_totals.parquet
    the WINDOW_TOTALS rows of the window (`period` "window") and of the previous period's
    weighted event types ("previous"), and in the file's metadata what they are the totals
    of: run date, window, weighted types and a digest of the aggregated files of their days
    (one file, replaced whole: the rows and what they are cannot disagree)
```

The next run date's totals are the kept ones slid (scoring.aggregates.slid_window_totals):
the window gains the run date's counts and loses those of the day that leaves it, which the
previous period gains, losing its own first day. That holds when the configuration does not
decay (decayed occurrences change with every run date), the window and weighted types are the
same and the files aggregated for the kept days are those the totals were computed from
(a late event appended to an older day's file, a late batch or a vanished file: the totals
are aggregated from the daily counts again). Counts are integers: the slid totals are those
aggregated from the daily counts, exactly (tests/tasks/score/test_running_totals.py).
"""

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from scoring.aggregates import WINDOW_TOTALS, slid_window_totals, window_start_date
from scoring.config import ScoringConfig
from scoring.metrics.panel_of_days import PanelDays, weighted_counts
from tasks.score.daily_aggregates import StoreState, scan_daily, store_dir

RUNNING_TOTALS_FILE = "running_totals.parquet"
PERIOD = "period"


@dataclass(frozen=True)
class TotalsOf:
    """What kept totals are the totals of."""

    run_date: str
    window_days: int
    weighted: tuple[str, ...]
    files: str
    """Digest of the aggregated files (path, fingerprint, days) holding days of the two periods."""

    @classmethod
    def of(cls, state: StoreState, config: ScoringConfig, run_date: date) -> "TotalsOf":
        first = window_start_date(run_date, 2 * config.window_days)
        entries = {path: state.files[path] for path in state.days_overlap(first, run_date)}
        covered = [
            [path, e["fingerprint"], e["first_day"], e["last_day"]] for path, e in entries.items()
        ]
        digest = hashlib.sha256(json.dumps(covered, sort_keys=True).encode()).hexdigest()
        weighted = tuple(sorted(config.weights))
        return cls(run_date.isoformat(), config.window_days, weighted, digest)

    def metadata(self) -> dict[str, str]:
        return {"engage.running_totals": json.dumps(asdict(self))}

    @classmethod
    def read(cls, path: Path) -> "TotalsOf | None":
        """What the kept totals at `path` are the totals of; None when there are none or they
        cannot be read (they are only a shortcut: the run counts its totals and keeps them)."""
        try:
            document = json.loads(pl.read_parquet_metadata(path)["engage.running_totals"])
            return cls(**{**document, "weighted": tuple(document["weighted"])})
        except (OSError, KeyError, TypeError, ValueError, pl.exceptions.PolarsError):
            return None


@dataclass(frozen=True)
class PeriodTotals:
    """The window's totals and the previous period's (of the weighted types) for a run date;
    `how`: "counted" from the daily counts, "slid" from the day before's or "kept" (the run
    date's own, a rerun)."""

    window: pl.DataFrame
    previous: pl.DataFrame
    how: str = "counted"


CountTotals = Callable[[PanelDays, ScoringConfig, date], PeriodTotals]
"""How a run counts its period totals from the daily counts of its days."""


def kept_totals(path: Path) -> PeriodTotals | None:
    """The totals a daily run kept (RUNNING_TOTALS_FILE at `path`); None when they cannot be
    read."""
    try:
        rows = pl.read_parquet(path, glob=False)
    except (OSError, pl.exceptions.PolarsError):
        return None
    window, previous = (
        rows.filter(pl.col(PERIOD) == name).select(list(WINDOW_TOTALS))
        for name in ("window", "previous")
    )
    return PeriodTotals(window, previous, how="kept")


def keep_totals(output: str | Path, of: TotalsOf, totals: PeriodTotals) -> None:
    """Keep a daily run's totals for the next day's run (replacing the kept ones)."""
    rows = pl.concat(
        [
            totals.window.with_columns(pl.lit("window").alias(PERIOD)),
            totals.previous.with_columns(pl.lit("previous").alias(PERIOD)),
        ]
    )
    target = store_dir(output) / RUNNING_TOTALS_FILE
    temporary = target.with_name(f".{uuid.uuid4().hex[:8]}.tmp")
    # lz4: written every day and read the next, not kept for readers
    rows.write_parquet(temporary, compression="lz4", metadata=of.metadata())
    os.replace(temporary, target)


def slid_totals(
    output: str | Path,
    state: StoreState,
    config: ScoringConfig,
    run_date: date,
    kept: PeriodTotals,
) -> PeriodTotals:
    """The kept totals of the day before the run date, slid by one day (no decay), with the
    daily counts of the store as `state` lists them."""
    window_days = config.window_days

    def day(d: date, weighted_only: bool = False) -> pl.LazyFrame:
        rows = scan_daily(output, "event_counts", d, d, state)
        return weighted_counts(rows, config) if weighted_only else rows

    moving = run_date - timedelta(days=window_days)  # leaves the window, enters the previous
    leaving = moving - timedelta(days=window_days)
    window, previous = pl.collect_all(
        [
            slid_window_totals(kept.window.lazy(), day(run_date), day(moving)),
            slid_window_totals(kept.previous.lazy(), day(moving, True), day(leaving, True)),
        ]
    )
    return PeriodTotals(window, previous, how="slid")


def period_totals(
    output: str | Path,
    config: ScoringConfig,
    run_date: date,
    days: PanelDays,
    counted: CountTotals,
) -> PeriodTotals:
    """The run date's window and previous-period totals: the kept ones (a rerun of the date),
    the day before's slid, or `counted` from the daily counts (`days`); a daily run (the
    store's latest day) keeps them for the next day's. Decayed totals are always counted."""
    if config.half_life_days is not None:
        return counted(days, config, run_date)
    state = StoreState.read(output)
    now = TotalsOf.of(state, config, run_date)
    path = store_dir(output) / RUNNING_TOTALS_FILE
    kept_of = TotalsOf.read(path)
    day_before = TotalsOf.of(state, config, run_date - timedelta(days=1))
    kept = kept_totals(path) if kept_of in (now, day_before) else None
    if kept is not None and kept_of == now:
        return kept
    if kept is not None:
        totals = slid_totals(output, state, config, run_date, kept)
    else:
        totals = counted(days, config, run_date)
    if state.last_events_through == run_date.isoformat():
        keep_totals(output, now, totals)
    return totals
