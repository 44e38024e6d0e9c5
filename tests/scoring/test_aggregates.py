"""Daily aggregates and window totals: hand-computed cases, and the same tables as the
direct rules of scoring.engagement on random events (with and without decay)."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from scoring.aggregates import (
    EVENT_TYPE_TOTALS,
    WINDOW_TOTALS,
    contributions_from_totals,
    customer_last_events,
    customer_scores_from_totals,
    daily_event_counts,
    event_type_totals,
    unweighted_event_types_from_totals,
    window_totals,
    window_totals_from_daily,
)
from scoring.config import ScoringConfig, TierBoundaries
from scoring.engagement import Window, contributions, customer_scores, events_in_window
from scoring.schema import UTC_TIMESTAMP

RUN_DATE = date(2026, 3, 31)


def events(rows: list[tuple[str, str, str, str]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "event_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "event_type": [r[2] for r in rows],
            "occurred_at": [datetime.fromisoformat(r[3]).astimezone(UTC) for r in rows],
        },
        schema_overrides={"occurred_at": UTC_TIMESTAMP},
    )


SMALL = events(
    [
        ("e1", "ann", "login", "2026-03-31T23:59:59+00:00"),
        ("e2", "ann", "login", "2026-03-31T08:00:00+00:00"),
        ("e3", "ann", "invite_sent", "2026-03-30T10:00:00+00:00"),
        ("e4", "ann", "login", "2026-03-01T23:59:59+00:00"),  # one second before a 30-day window
        ("e5", "bob", "page_view", "2026-03-29T00:00:00+00:00"),
        ("e6", "bob", "app_uninstalled", "2026-04-01T00:00:00+00:00"),  # after the run date
    ]
)


def test_daily_event_counts_by_customer_type_and_utc_day() -> None:
    daily = daily_event_counts(SMALL).sort("customer_id", "event_type", "event_date").collect()
    assert daily.select("customer_id", "event_type", "event_date", "count").rows() == [
        ("ann", "invite_sent", date(2026, 3, 30), 1),
        ("ann", "login", date(2026, 3, 1), 1),
        ("ann", "login", date(2026, 3, 31), 2),
        ("bob", "app_uninstalled", date(2026, 4, 1), 1),
        ("bob", "page_view", date(2026, 3, 29), 1),
    ]
    assert daily["last_event_at"][2] == datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)


def test_scores_from_daily_counts_hand_computed_with_decay() -> None:
    config = ScoringConfig(
        weights={"login": 1, "invite_sent": 10, "app_uninstalled": -20}, half_life_days=1
    )
    daily = daily_event_counts(SMALL)
    totals = window_totals_from_daily(daily, config, RUN_DATE)
    scores = customer_scores_from_totals(
        totals, config, customer_last_events(daily, RUN_DATE)
    ).collect()
    # ann: 2 logins today (age 0) + an invite yesterday (age 1: 10 x 0.5); bob: unweighted only
    assert scores.select("customer_id", "score", "event_count").rows() == [
        ("ann", 7.0, 3),
        ("bob", 0.0, 1),
    ]
    assert scores["last_event_at"][1] == datetime(2026, 3, 29, tzinfo=UTC)  # e6 is after the date
    assert unweighted_event_types_from_totals(totals, config).collect().rows() == [("page_view", 1)]


def random_events(seed: int, rows: int = 3000) -> pl.LazyFrame:
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    seconds = rng.integers(0, 100 * 86_400, rows)
    return pl.LazyFrame(
        {
            "event_id": [f"e{i}" for i in range(rows)],
            "customer_id": [f"c{k}" for k in rng.zipf(1.5, rows) % 200],
            "event_type": rng.choice(["login", "invite_sent", "page_view", "downgrade"], rows),
            "occurred_at": [datetime.fromtimestamp(start + s, UTC) for s in seconds],
        },
        schema_overrides={"occurred_at": UTC_TIMESTAMP},
    )


CONFIGS = [
    ScoringConfig(weights={"login": 1, "invite_sent": 10, "downgrade": -15}),
    ScoringConfig(window_days=7, weights={"login": 0.1, "invite_sent": 2.5}),
    ScoringConfig(
        window_days=45,
        half_life_days=7,
        weights={"login": 1, "downgrade": -3},
        tiers=TierBoundaries(very_disengaged_max=5, somewhat_engaged_max=9, highly_engaged_max=20),
    ),
    ScoringConfig(window_days=1000, weights={"login": 1}),  # longer than the history
]


def unweighted_in_window(
    events: pl.LazyFrame, config: ScoringConfig, run_date: date
) -> pl.LazyFrame:
    """The direct rule: per event type without a weight, its events in the window."""
    return (
        events_in_window(events, Window.ending_on(run_date, config.window_days))
        .filter(~pl.col("event_type").is_in(list(config.weights)))
        .group_by("event_type")
        .agg(pl.len().cast(pl.Int64).alias("count"))
        .sort("event_type")
    )


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("run_date", [date(2026, 3, 31), date(2026, 2, 10)])
def test_one_pass_and_daily_paths_equal_the_direct_rules(
    config: ScoringConfig, run_date: date
) -> None:
    raw = random_events(seed=3)
    expected = pl.collect_all(
        [
            customer_scores(raw, config, run_date),
            contributions(raw, config, run_date),
            unweighted_in_window(raw, config, run_date),
        ]
    )
    one_pass = window_totals(raw, config, run_date).collect().lazy()
    daily = daily_event_counts(raw).collect().lazy()
    from_daily = window_totals_from_daily(daily, config, run_date).collect().lazy()
    for totals, last_events in [
        (one_pass, None),
        (from_daily, customer_last_events(daily, run_date)),
    ]:
        actual = pl.collect_all(
            [
                customer_scores_from_totals(totals, config, last_events),
                contributions_from_totals(totals, config),
                unweighted_event_types_from_totals(totals, config),
            ]
        )
        for want, got in zip(expected, actual, strict=True):
            assert got.equals(want)
    assert expected[0].height > 20 and expected[1].height > 20  # the data exercises the rules


@pytest.mark.parametrize("config", CONFIGS)
def test_event_type_totals_add_first_events_and_the_previous_period(config: ScoringConfig) -> None:
    raw = random_events(seed=5)
    run_date = date(2026, 3, 31)
    previous_date = run_date - timedelta(days=config.window_days)
    totals = event_type_totals(raw, config, run_date).collect()
    assert totals.schema == EVENT_TYPE_TOTALS
    key = ["customer_id", "event_type"]
    # the scoring's columns are window_totals'
    plain = window_totals(raw, config, run_date).collect().sort(key)
    assert totals.select(list(WINDOW_TOTALS)).sort(key).equals(plain)
    # first_event_at: the earliest event of the customer and type by the end of the run date
    end = datetime(2026, 4, 1, tzinfo=UTC)
    first = (
        raw.filter(pl.col("occurred_at") < end)
        .group_by(key)
        .agg(pl.col("occurred_at").min().alias("first_event_at"))
    )
    # previous_occurrences: the occurrences the run of the previous period counts (0 for a
    # customer and type it did not see)
    previous = window_totals(raw, config, previous_date).select(
        *key, pl.col("occurrences").alias("previous_occurrences")
    )
    expected = (
        plain.lazy()
        .select(key)
        .join(first, on=key, how="left")
        .join(previous, on=key, how="left")
        .with_columns(pl.col("previous_occurrences").fill_null(0.0))
        .collect()
    )
    # decayed occurrences are exact sums of looked-up factors: equal to the bit in any plan
    assert_frame_equal(
        totals.select(expected.columns).sort(key), expected.sort(key), check_exact=True
    )
    if config.window_days < 50:  # the history reaches the previous period
        assert expected["previous_occurrences"].sum() > 0


def test_event_type_totals_keep_the_valued_purchases_of_the_clv_lookback() -> None:
    config = ScoringConfig.model_validate(
        {"weights": {"purchase": 5}, "metrics": {"clv_lookback_days": 30}}
    )
    rows = [
        ("p1", "ann", "purchase", "2026-03-31T10:00:00+00:00"),  # in the lookback
        ("p2", "ann", "purchase", "2026-03-02T00:00:00+00:00"),  # its first day
        ("p3", "ann", "purchase", "2026-03-01T23:59:59+00:00"),  # before it
        ("p4", "ann", "purchase", "2026-03-20T00:00:00+00:00"),  # no amount
        ("p5", "ann", "login", "2026-03-20T00:00:00+00:00"),  # an amount, not a purchase
        ("p6", "bob", "purchase", "2026-04-01T00:00:00+00:00"),  # after the run date
    ]
    # amounts as text, as an event store's files may carry them
    with_amounts = events(rows).with_columns(
        pl.Series("amount", ["12.5", " 7.25 ", "100", None, "3", "9"])
    )
    totals = event_type_totals(with_amounts, config, RUN_DATE).sort("event_type").collect()
    assert totals.select("event_type", "valued_purchases", "purchase_amount").rows() == [
        ("login", 0, 0.0),
        ("purchase", 2, 19.75),
    ]
    # without an amount column no purchase can be valued
    plain = event_type_totals(events(rows), config, RUN_DATE).collect()
    assert plain.schema == EVENT_TYPE_TOTALS
    assert plain["valued_purchases"].to_list() == [0, 0]
    assert plain["purchase_amount"].to_list() == [0.0, 0.0]
