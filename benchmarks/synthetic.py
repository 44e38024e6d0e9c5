"""A synthetic event history for the benchmark: Zipf-skewed customers, one Parquet file per day.

Layout: `<root>/event_date=YYYY-MM-DD/part-0.parquet` (the partition key in the directory
name only), columns event_id, customer_id, event_type, occurred_at (UTC) and a `session_id`
that scoring does not need (so reading only the needed columns matters).

Activity: customer k (0-based) draws events with probability proportional to 1 / (k + 10)
(a Zipf-Mandelbrot law: a heavy head, a long tail of rare customers), event types from a
fixed mix, times uniform over the day. Deterministic for a seed.
"""

import argparse
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

EVENT_TYPE_MIX: dict[str, float] = {
    "page_view": 0.32,
    "login": 0.20,
    "session_start": 0.15,
    "feature_used": 0.10,
    "message_sent": 0.08,
    "email_open": 0.06,
    "email_click": 0.03,
    "report_exported": 0.025,
    "invite_sent": 0.015,
    "support_ticket": 0.01,
    "integration_added": 0.005,
    "downgrade": 0.003,
    "app_uninstalled": 0.002,
}
"""Event types and their shares; `page_view` and `email_open` are left unweighted."""

BENCH_WEIGHTS: dict[str, float] = {
    "login": 1,
    "session_start": 0.5,
    "feature_used": 2,
    "message_sent": 1,
    "email_click": 0.5,
    "report_exported": 3,
    "invite_sent": 10,
    "support_ticket": -2,
    "integration_added": 15,
    "downgrade": -15,
    "app_uninstalled": -20,
}

PART_FILE = "part-0.parquet"


def day_dir(root: Path, day: date) -> Path:
    return root / f"event_date={day.isoformat()}"


def customer_probabilities(customers: int) -> np.ndarray:
    """P(an event belongs to customer k) proportional to 1 / (k + 10)."""
    weights = 1.0 / (np.arange(customers) + 10.0)
    return weights / weights.sum()


def day_events(
    rng: np.random.Generator, day: date, rows: int, cumulative: np.ndarray, first_id: int
) -> pl.DataFrame:
    """One day's events: `rows` events, ids first_id.. (unique over the history)."""
    customer = np.searchsorted(cumulative, rng.random(rows), side="right")
    customer = np.minimum(customer, cumulative.size - 1)
    types = np.array(list(EVENT_TYPE_MIX))
    shares = np.array(list(EVENT_TYPE_MIX.values()))
    type_index = rng.choice(types.size, size=rows, p=shares / shares.sum())
    start = int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1_000_000)
    micros = start + rng.integers(0, 86_400_000_000, rows)
    return (
        pl.DataFrame(
            {
                "_id": np.arange(first_id, first_id + rows, dtype=np.int64),
                "_customer": customer.astype(np.int64),
                "_type": type_index.astype(np.int64),
                "occurred_at": micros,
                "_session": rng.integers(0, 1 << 40, rows),
            }
        )
        .with_columns(
            ("e" + pl.col("_id").cast(pl.String)).alias("event_id"),
            ("c" + pl.col("_customer").cast(pl.String).str.zfill(7)).alias("customer_id"),
            pl.col("_type")
            .replace_strict(dict(enumerate(types.tolist())), return_dtype=pl.String)
            .alias("event_type"),
            pl.col("occurred_at").cast(pl.Datetime("us", "UTC")),
            pl.col("_session").cast(pl.String).alias("session_id"),
        )
        .select("event_id", "customer_id", "event_type", "occurred_at", "session_id")
    )


def write_history(
    root: Path, events: int, customers: int, days: int, end_date: date, seed: int = 7
) -> dict[str, object]:
    """Write the history (skipped when the same one is already there); returns its summary."""
    summary = {
        "events": events,
        "customers": customers,
        "days": days,
        "end_date": end_date.isoformat(),
        "seed": seed,
    }
    marker = root / "history.json"
    if marker.exists() and json.loads(marker.read_text()) == summary:
        return summary
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(customer_probabilities(customers))
    per_day = np.full(days, events // days)
    per_day[: events - per_day.sum()] += 1
    first_id = 0
    for offset, rows in enumerate(per_day):
        day = end_date - timedelta(days=days - 1 - offset)
        directory = day_dir(root, day)
        directory.mkdir(parents=True, exist_ok=True)
        frame = day_events(rng, day, int(rows), cumulative, first_id)
        frame.write_parquet(directory / PART_FILE, compression="zstd", row_group_size=250_000)
        first_id += int(rows)
    marker.write_text(json.dumps(summary))
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 3, 31))
    arguments = parser.parse_args()
    print(
        write_history(
            arguments.root,
            arguments.events,
            arguments.customers,
            arguments.days,
            arguments.end_date,
        )
    )
