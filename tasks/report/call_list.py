"""The run report's call list: the flags to work today by priority, with owner, value, reasons,
why the score changed and a score-trend sparkline; the queue; the biggest movers."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from scoring.history import explained_changes, score_deltas
from tasks.publish.runs import published_run_dates
from tasks.publish.write import PART_FILE, partition_dir

TREND_RUNS = 30
"""Runs a sparkline shows at most (the latest, the run date included)."""
MOVERS = 10
QUEUE_SHOWN = 10
SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 96, 24, 2


@dataclass(frozen=True)
class Sparkline:
    """An inline SVG polyline: its points ("x,y ..."), the last point and a title."""

    points: str
    last_x: float
    last_y: float
    title: str


def sparkline(scores: list[float]) -> Sparkline | None:
    """The scores (oldest first) scaled into SPARK_WIDTH x SPARK_HEIGHT, higher scores higher;
    None for fewer than two scores (no trend to draw)."""
    if len(scores) < 2:
        return None
    low, high = min(scores), max(scores)
    span = (high - low) or 1.0
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / (len(scores) - 1)
    inner = SPARK_HEIGHT - 2 * SPARK_PAD
    xy = [
        (round(SPARK_PAD + i * step, 1), round(SPARK_PAD + inner * (high - s) / span, 1))
        for i, s in enumerate(scores)
    ]
    title = f"score over {len(scores)} runs: {scores[0]:g} → {scores[-1]:g}"
    return Sparkline(" ".join(f"{x},{y}" for x, y in xy), xy[-1][0], xy[-1][1], title)


def score_trends(output: str, staging: str, run_date: date, customers: list[str]) -> pl.DataFrame:
    """customer_id, run_date, score of `customers` over the last TREND_RUNS runs: published
    score history before the run date, then the run's staged one."""
    earlier = [d for d in published_run_dates(output, "score_history", PART_FILE) if d < run_date][
        -(TREND_RUNS - 1) :
    ]
    sources = [(partition_dir(output, "score_history", d), d) for d in earlier]
    sources.append((partition_dir(staging, "score_history", run_date), run_date))
    frames = [
        pl.scan_parquet(directory / PART_FILE, glob=False)
        .filter(pl.col("customer_id").is_in(customers))
        .select("customer_id", pl.lit(day).alias("run_date"), "score")
        for directory, day in sources
        if (directory / PART_FILE).is_file()
    ]
    schema = {"customer_id": pl.String, "run_date": pl.Date, "score": pl.Float64}
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames).collect().sort("customer_id", "run_date")


def mover_explanations(
    staging: str, output: str, run_date: date, previous_date: date | None, movers: list[str]
) -> pl.DataFrame:
    """customer_id, explanation of the score changes of the `movers` (customer ids) since the
    previous run (the exact decomposition by event type); empty without a previous run."""
    empty = pl.DataFrame(schema={"customer_id": pl.String, "explanation": pl.String})
    if previous_date is None:
        return empty
    before = partition_dir(output, "contributions", previous_date) / PART_FILE
    previous_scores = partition_dir(output, "scores", previous_date) / PART_FILE
    if not before.is_file() or not previous_scores.is_file():
        return empty
    today = pl.scan_parquet(
        partition_dir(staging, "contributions", run_date) / PART_FILE, glob=False
    )
    deltas = score_deltas(
        pl.scan_parquet(partition_dir(staging, "scores", run_date) / PART_FILE, glob=False),
        pl.scan_parquet(previous_scores, glob=False),
    )
    named = pl.LazyFrame({"customer_id": movers}, schema={"customer_id": pl.String})
    return explained_changes(named, today, pl.scan_parquet(before, glob=False), deltas).collect()


def call_list_rows(
    flags: pl.DataFrame, trends: pl.DataFrame | None, size: int
) -> list[dict[str, Any]]:
    """The top `size` delivered flags (status new or open) by priority, as template rows,
    each with its sparkline from `trends` (customer_id, run_date, score; None without two runs
    of history)."""
    top = flags.filter(pl.col("status").is_in(["new", "open"])).sort("priority").head(size)
    history: dict[str, list[float]] = {}
    if trends is not None:
        history = dict(
            trends.sort("run_date")
            .group_by("customer_id", maintain_order=True)
            .agg("score")
            .iter_rows()
        )
    return [
        row | {"trend": sparkline(history.get(row["customer_id"], []))} for row in top.to_dicts()
    ]


def queue_rows(flags: pl.DataFrame) -> pl.DataFrame:
    """The first QUEUE_SHOWN queued flags, by priority: who is offered next."""
    return (
        flags.filter(pl.col("status") == "queued")
        .sort("priority")
        .head(QUEUE_SHOWN)
        .select(
            "priority",
            "kind",
            "customer_id",
            "customer_name",
            "account_owner",
            "value",
            "score",
            "flagged_on",
            "reasons",
        )
    )


def mover_ids(changes: pl.DataFrame) -> list[str]:
    """The customers biggest_movers lists (both directions): the only ones it explains."""
    no_explanations = pl.DataFrame(schema={"customer_id": pl.String, "explanation": pl.String})
    movers = biggest_movers(changes, no_explanations).values()
    return [customer for frame in movers for customer in frame["customer_id"]]


def biggest_movers(changes: pl.DataFrame, explanations: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The MOVERS customers whose score fell most ("down") and rose most ("up") since the
    previous run, with why (ties by customer_id)."""
    moved = changes.filter(pl.col("delta").is_not_null() & (pl.col("delta") != 0)).join(
        explanations, on="customer_id", how="left"
    )
    columns = ("customer_id", "previous_score", "score", "delta", "previous_tier", "tier")
    return {
        direction: moved.filter(pl.col("delta") * sign < 0)
        .sort(pl.col("delta") * sign, pl.col("customer_id"))
        .head(MOVERS)
        .select(*columns, "explanation")
        for direction, sign in (("down", 1), ("up", -1))
    }


def flags_link(run_date: date) -> str:
    """The flags partition relative to the report (reports/run_date=…/report.html)."""
    return str(Path("..", "..", "flags", f"run_date={run_date.isoformat()}", PART_FILE))
