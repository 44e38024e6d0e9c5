"""Small deterministic event files spanning many days: scores move from one day to the next."""

from datetime import date, timedelta
from pathlib import Path

from scoring.config import ScoringConfig

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
