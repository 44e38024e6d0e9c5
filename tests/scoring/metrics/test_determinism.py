"""Reruns give the same bits: float sums are exact (Decimal), ties are broken by event_id."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from scoring.aggregates import window_totals
from scoring.config import ScoringConfig
from scoring.engagement import contributions, customer_scores
from scoring.events import typed_properties
from scoring.metrics.panel import MetricPanel, customer_metrics, metric_panel, segment_metrics
from scoring.metrics.rates import exact_sum, sum_where
from tests.scoring.metrics.frames import RUN_DATE, config, customer_rows, ev, events

ROWS = 200_000
CUSTOMERS = 40
"""Few customers with many events each: a customer's rows span the threads' partial sums,
where a float sum's last bits depended on the order they were added in."""


def test_exact_sums_do_not_round_like_floats() -> None:
    frame = pl.DataFrame(
        {"g": ["a", "a", "a", "b", "b"], "x": [0.1, 0.2, None, None, None]},
        schema={"g": pl.String, "x": pl.Float64},
    )
    assert 0.1 + 0.2 != 0.3  # the float sum
    rows = (
        frame.group_by("g")
        .agg(
            exact_sum(pl.col("x")).alias("sum"),
            sum_where(pl.col("x"), pl.col("x") > 0.15).alias("above"),
        )
        .sort("g")
        .rows()
    )
    # a: 0.1 + 0.2 = 0.3 exactly; b: no value -> sum 0
    assert rows == [("a", 0.3, 0.2), ("b", 0.0, 0.0)]


def test_event_attribute_tie_on_time_is_broken_by_event_id() -> None:
    frame = events(
        {**ev("a", "login", "2026-03-10T10:00:00Z", plan="pro"), "event_id": "e2"},
        {**ev("a", "login", "2026-03-10T10:00:00Z", plan="free"), "event_id": "e1"},
    )
    assert customer_rows(frame, config(segments=["plan"]))["a"]["plan"] == "pro"


def seeded_events(customers: int = CUSTOMERS, seed: int = 20260331) -> pl.LazyFrame:
    """ROWS page views, purchases, effort answers and logins of `customers` customers over
    the 40 days before the run date, with float durations, scrolls, amounts and answers."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 2, 20, tzinfo=UTC)
    kind = rng.choice(
        np.array(["page_view", "purchase", "effort_response", "login"]),
        ROWS,
        p=[0.7, 0.1, 0.1, 0.1],
    )
    frame = pl.DataFrame(
        {
            "event_id": [f"e{i:07d}" for i in range(ROWS)],
            "customer_id": [f"c{i:03d}" for i in rng.integers(0, customers, ROWS)],
            "event_type": kind,
            "occurred_at": pl.Series(
                [start + timedelta(seconds=int(s)) for s in rng.integers(0, 40 * 86_400, ROWS)],
                dtype=pl.Datetime("us", "UTC"),
            ),
            "session_id": [f"s{i}" for i in rng.integers(0, 20_000, ROWS)],
            "page": [f"/p{i}" for i in rng.integers(0, 5, ROWS)],
            "duration_s": rng.exponential(37.3, ROWS),
            "scroll_pct": rng.uniform(0, 100, ROWS),
            "amount": rng.lognormal(3.0, 1.0, ROWS),
            "value": rng.integers(1, 8, ROWS).astype(float),
            "plan": rng.choice(np.array(["free", "pro"]), ROWS),
        }
    )
    return typed_properties(frame.lazy())


@pytest.mark.parametrize("engine", ["in-memory", "streaming"])
def test_panel_reruns_are_identical(engine: str) -> None:
    frame = seeded_events().collect().lazy()
    cfg = config(segments=["plan"])
    outputs = []
    for _ in range(3):
        panel = metric_panel(frame, cfg, RUN_DATE)
        customers, pages, features = pl.collect_all(
            [panel.customers, panel.pages, panel.feature_users], engine=engine
        )
        collected = MetricPanel(customers.lazy(), pages.lazy(), features.lazy(), panel.segments)
        outputs.append(
            pl.collect_all(
                [customer_metrics(collected.customers), segment_metrics(collected, cfg)],
                engine=engine,
            )
        )
    first_customers, first_segments = outputs[0]
    assert first_customers.height == CUSTOMERS
    assert first_customers["revenue"].is_not_null().all()
    for customers, segments in outputs[1:]:
        assert customers.equals(first_customers)
        assert segments.equals(first_segments)


def test_decayed_occurrences_and_scores_reruns_are_identical() -> None:
    """The streaming engine's partial sums jitter most; scores are rounded to 1e-9, which does
    not make a sum stable when the jitter crosses a rounding boundary. The occurrences of
    many (customer, type) groups jittered in the streaming engine."""
    frame = seeded_events(customers=2_000).collect().lazy()
    cfg = ScoringConfig(weights={"page_view": 0.3, "purchase": 5, "login": 1}, half_life_days=7)
    runs = [
        pl.collect_all(
            [
                window_totals(frame, cfg, RUN_DATE),
                contributions(frame, cfg, RUN_DATE),
                customer_scores(frame, cfg, RUN_DATE),
            ],
            engine="streaming",
        )
        for _ in range(3)
    ]
    totals = runs[0][0].sort("customer_id", "event_type")
    assert totals.filter(pl.col("count") > 0)["occurrences"].min() > 0
    for later in runs[1:]:
        assert later[0].sort("customer_id", "event_type").equals(totals)
        assert later[1].equals(runs[0][1])
        assert later[2].equals(runs[0][2])
