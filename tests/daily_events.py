"""Small deterministic event files spanning many days: scores move from one day to the next;
and event frames of a few hand-written rows."""

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from scoring.config import ScoringConfig
from scoring.schema import UTC_TIMESTAMP

CONFIG = ScoringConfig(
    window_days=7,
    weights={"login": 3, "feature_used": 5, "invite_sent": 15, "app_uninstalled": -60},
)
CONFIG_YAML = """window_days: 7
weights: {login: 3, feature_used: 5, invite_sent: 15, app_uninstalled: -60}
"""


def write_daily_events(path: Path, first_day: date, days: int, customers: int = 8) -> Path:
    """A CSV of events from `first_day` for `days` days: customer i logs in (i * day) % 4
    times a day, uses a feature when (i + day) % 3 == 0, invites when (i + 2 day) % 7 == 0,
    uninstalls once on day 3 i; plus one row without a customer every 5th day (quarantined)."""
    lines = ["event_id,customer_id,event_type,occurred_at"]
    for day_index in range(days):
        day = first_day + timedelta(days=day_index)
        for i in range(1, customers + 1):
            customer = f"c{i:02d}"
            types = ["login"] * ((i * day_index) % 4)
            if (i + day_index) % 3 == 0:
                types.append("feature_used")
            if (i + 2 * day_index) % 7 == 0:
                types.append("invite_sent")
            if day_index == 3 * i:
                types.append("app_uninstalled")
            for n, event_type in enumerate(types):
                hour = (3 * i + 5 * n) % 24
                lines.append(
                    f"{day}-{customer}-{n},{customer},{event_type},{day}T{hour:02d}:17:00Z"
                )
        if day_index % 5 == 0:
            lines.append(f"{day}-orphan,,login,{day}T12:00:00Z")
    path.write_text("\n".join(lines) + "\n")
    return path


def event_frame(rows: list[tuple[str, str, datetime]]) -> pl.LazyFrame:
    """Events of (customer_id, event_type, occurred_at) rows, with ids e0, e1, ..."""
    return pl.LazyFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "event_type": [r[1] for r in rows],
            "occurred_at": [r[2] for r in rows],
        },
        schema={
            "event_id": pl.String,
            "customer_id": pl.String,
            "event_type": pl.String,
            "occurred_at": UTC_TIMESTAMP,
        },
    )
