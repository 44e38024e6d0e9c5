"""A seeded cohort-shaped activity log with planted churn labels, for backtests that must tell the
truth: each customer is observed over its own period (a course, a trial, a contract), as in
public activity logs with official dropout labels.

Shape:

- cohorts start every `cohort_every_days` days from `start`; each lasts 28, 35 or 42 days (its
  customers' `observed_until` is the cohort's last day); `customers_per_cohort` customers each;
- every customer has a static engagement trait z ~ N(0, 1) and drops out on the first day a
  Bernoulli(sigmoid(-3.4 - TRAIT_SLOPE z)) fires: no event from then on (the planted churn);
- its engagement fades before that: x(t) = z - fade x clip(1 - (T - t) / fade_days, 0, 1) for
  the dropout day T, so recent behaviour says more about the coming dropout than old behaviour
  (a half-life helps) while the trait rewards a long enough window;
- each day before it drops out (and within its cohort) it has Poisson(activity x rate_t x
  exp(beta_t x(t))) events of each type t (EVENT_MIX), with the `problem` rate tripled over the
  cohort's last four days (an exam: the engaged customers are busiest just before their
  observation ends);
- the official labels: every `label_every_days` days D, for each customer of a cohort running on
  D whose horizon ends within the cohort (D + horizon_days <= observed_until) and who has not
  dropped out by D: churned = it drops out within D+1 .. D+horizon_days.

So the planted order is video and problem (strong), discussion and page_close (medium), access,
navigate (the most frequent, weak) and wiki: engagement; help: friction (negative). Without the
observation ends, silence after a cohort's end looks like churn of its busiest customers.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from scoring.schema import UTC_TIMESTAMP

EVENT_MIX: dict[str, tuple[float, float]] = {
    "navigate": (1.2, 0.25),
    "access": (0.9, 0.35),
    "page_close": (0.6, 0.45),
    "video": (0.5, 0.9),
    "problem": (0.4, 0.8),
    "discussion": (0.12, 0.6),
    "wiki": (0.05, 0.3),
    "help": (0.04, -0.8),
}
"""event type -> (daily rate at x = 0, beta: the rate is multiplied by exp(beta x))."""
COHORT_LENGTHS = (28, 35, 42)
EXAM_DAYS = 4
EXAM_BOOST = 3.0
TRAIT_SLOPE = 1.5


@dataclass(frozen=True)
class CohortData:
    """Events (event_id, customer_id, event_type, occurred_at), customers (customer_id, cohort,
    observed_until) and the official labels (customer_id, observation_date, churned)."""

    events: pl.DataFrame
    customers: pl.DataFrame
    labels: pl.DataFrame


def _engagement(
    rng: np.random.Generator, customers: int, days: int, fade_days: float, fade: float
) -> tuple[np.ndarray, np.ndarray]:
    """(per customer and day the latent engagement x(t), per customer its dropout day; days =
    never within the cohort). x(t) = z - fade x clip(1 - (T - t) / fade_days, 0, 1): a
    static trait z ~ N(0, 1), fading over the fade_days before the dropout day T, which comes
    with the daily hazard sigmoid(-3.4 - TRAIT_SLOPE z)."""
    trait = rng.standard_normal(customers)
    hazard = 1 / (1 + np.exp(3.4 + TRAIT_SLOPE * trait))
    fires = rng.random((customers, days)) < hazard[:, None]
    dropout = np.where(fires.any(axis=1), fires.argmax(axis=1), days)
    until = dropout[:, None] - np.arange(days)[None, :]
    fading = np.clip(1 - until / fade_days, 0.0, 1.0)
    return trait[:, None] - fade * fading, dropout


def _events(
    rng: np.random.Generator,
    states: np.ndarray,
    alive: np.ndarray,
    exam: np.ndarray,
    first_day: np.ndarray,
    activity: float,
) -> pl.DataFrame:
    """customer (index), event_type, day (absolute day number), seconds into the day."""
    frames = []
    for event_type, (rate, beta) in EVENT_MIX.items():
        boost = np.where(exam, EXAM_BOOST, 1.0) if event_type == "problem" else 1.0
        counts = rng.poisson(activity * rate * np.exp(beta * states) * boost * alive)
        customer, day = np.nonzero(counts)
        repeats = counts[customer, day]
        frames.append(
            pl.DataFrame(
                {
                    "customer": np.repeat(customer, repeats),
                    "event_type": event_type,
                    "day": np.repeat(first_day[customer] + day, repeats),
                }
            )
        )
    events = pl.concat(frames)
    seconds = rng.uniform(8 * 3600, 22 * 3600, events.height).astype(np.int64)
    return events.with_columns(pl.Series("second", seconds))


def cohort_dataset(
    seed: int = 0,
    cohorts: int = 12,
    customers_per_cohort: int = 120,
    start: date = date(2025, 9, 1),
    cohort_every_days: int = 7,
    label_every_days: int = 7,
    horizon_days: int = 14,
    activity: float = 0.15,
    fade_days: float = 21.0,
    fade: float = 1.0,
) -> CohortData:
    """The seeded dataset of the module docstring (`activity` scales every rate)."""
    rng = np.random.default_rng(seed)
    lengths = rng.choice(COHORT_LENGTHS, cohorts)
    cohort = np.repeat(np.arange(cohorts), customers_per_cohort)
    length = lengths[cohort]
    first_day = cohort * cohort_every_days
    days = int(lengths.max())
    states, dropout = _engagement(rng, cohort.size, days, fade_days, fade)
    day = np.arange(days)[None, :]
    alive = (day < dropout[:, None]) & (day < length[:, None])
    exam = day >= (length[:, None] - EXAM_DAYS)
    raw = _events(rng, states, alive, exam, first_day, activity)
    origin = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    ids = [f"c{i:06d}" for i in range(cohort.size)]
    events = (
        raw.sort("day", "second", "customer", "event_type")
        .with_row_index("n")
        .select(
            pl.format("e{}", pl.col("n")).alias("event_id"),
            pl.col("customer")
            .replace_strict(range(len(ids)), ids, return_dtype=pl.String)
            .alias("customer_id"),
            "event_type",
            (pl.lit(origin) + pl.duration(days=pl.col("day"), seconds=pl.col("second")))
            .cast(UTC_TIMESTAMP)
            .alias("occurred_at"),
        )
    )
    observed_until = [
        start + timedelta(days=int(f + n - 1)) for f, n in zip(first_day, length, strict=True)
    ]
    customers = pl.DataFrame(
        {
            "customer_id": ids,
            "cohort": [f"cohort_{k:02d}" for k in cohort],
            "observed_until": observed_until,
        }
    )
    labels = _labels(start, ids, first_day, length, dropout, label_every_days, horizon_days)
    return CohortData(events=events, customers=customers, labels=labels)


def _labels(
    start: date,
    ids: list[str],
    first_day: np.ndarray,
    length: np.ndarray,
    dropout: np.ndarray,
    every_days: int,
    horizon_days: int,
) -> pl.DataFrame:
    """The official labels of the module docstring."""
    last_day = int((first_day + length).max())
    rows: dict[str, list] = {"customer_id": [], "observation_date": [], "churned": []}
    for observation in range(every_days, last_day, every_days):
        relative = observation - first_day
        labelled = (relative >= 0) & (relative + horizon_days < length) & (dropout > relative)
        for i in np.flatnonzero(labelled):
            rows["customer_id"].append(ids[i])
            rows["observation_date"].append(start + timedelta(days=observation))
            rows["churned"].append(int(dropout[i] <= relative[i] + horizon_days))
    return pl.DataFrame(
        rows, schema={"customer_id": pl.String, "observation_date": pl.Date, "churned": pl.Int8}
    )
