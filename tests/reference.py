"""An independent, plain-Python implementation of the scoring rules (no Polars), used as the
oracle that the Polars pipeline is compared against."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta


@dataclass(frozen=True)
class Event:
    event_id: str
    customer_id: str
    event_type: str
    occurred_at: datetime


def parse_iso(text: str) -> datetime:
    """ISO 8601 text as an aware UTC datetime; naive is UTC."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def tier(score: float) -> str:
    if score < 0:
        return "churn_risk"
    if score <= 40:
        return "very_disengaged"
    if score <= 70:
        return "somewhat_engaged"
    if score <= 100:
        return "highly_engaged"
    return "power_user"


def reference_scores(
    events: list[Event], weights: dict[str, float], run_date: date, window_days: int = 30
) -> tuple[dict[str, dict], dict[tuple[str, str], dict]]:
    """(scores by customer, contributions by (customer, event_type)) for the exact formula."""
    seen: set[str] = set()
    unique = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            unique.append(event)
    end = datetime.combine(run_date + timedelta(days=1), time(), tzinfo=UTC)
    start = end - timedelta(days=window_days)
    scores: dict[str, dict] = {}
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for event in unique:
        if event.occurred_at >= end:
            continue
        row = scores.setdefault(
            event.customer_id, {"score": 0.0, "event_count": 0, "last_event_at": event.occurred_at}
        )
        row["last_event_at"] = max(row["last_event_at"], event.occurred_at)
        if event.occurred_at >= start:
            row["event_count"] += 1
            if event.event_type in weights:
                counts[(event.customer_id, event.event_type)] += 1
    contributions = {
        key: {"count": n, "weight": weights[key[1]], "contribution": weights[key[1]] * n}
        for key, n in counts.items()
    }
    for (customer, _), row in contributions.items():
        scores[customer]["score"] += row["contribution"]
    for row in scores.values():
        row["tier"] = tier(row["score"])
    return scores, contributions
