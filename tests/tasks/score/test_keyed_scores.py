"""Scoring by 64-bit keys (scoring.keyed) gives the tables of scoring by text ids, and falls
back to text ids when a key does not tell two ids apart."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import scoring.keyed
from scoring.aggregates import (
    daily_event_counts,
    window_totals_from_daily,
)
from scoring.config import ScoringConfig
from scoring.schema import UTC_TIMESTAMP
from tasks.score.scores import (
    ScoreTables,
    keyed_tables,
    score_tables,
    text_tables,
    window_totals_of_days,
)

RUN_DATE = date(2026, 3, 31)
WEIGHTS = {"login": 1.0, "invite_sent": 10.0, "downgrade": -15.0, "export": 0.3}


def random_events(seed: int, rows: int, customers: int, days: int) -> pl.LazyFrame:
    """Events over `days` days up to two days after the run date, Zipf-skewed customers."""
    rng = np.random.default_rng(seed)
    end = datetime(2026, 4, 2, tzinfo=UTC)
    offsets = rng.integers(0, days * 86_400, rows)
    return pl.LazyFrame(
        {
            "event_id": [f"e{i}" for i in range(rows)],
            "customer_id": [f"c{k % customers}" for k in rng.zipf(1.3, rows)],
            "event_type": rng.choice([*WEIGHTS, "page_view", "email_open"], rows),
            "occurred_at": [end - timedelta(seconds=int(s)) for s in offsets],
        },
        schema_overrides={"occurred_at": UTC_TIMESTAMP},
    )


def assert_same_tables(actual: ScoreTables, expected: ScoreTables) -> None:
    for got, want in zip(actual, expected, strict=True):
        assert_frame_equal(got, want, check_exact=True)


@settings(max_examples=15, deadline=None, database=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 400),
    customers=st.integers(1, 60),
    window_days=st.sampled_from([1, 3, 7, 30]),
    half_life=st.sampled_from([None, 2.0, 7.0]),
)
def test_keyed_tables_equal_the_text_tables(
    seed: int, rows: int, customers: int, window_days: int, half_life: float | None
) -> None:
    config = ScoringConfig(window_days=window_days, weights=WEIGHTS, half_life_days=half_life)
    events = random_events(seed, rows, customers, days=45)
    keyed = keyed_tables(events, config, RUN_DATE)
    assert keyed is not None  # 64-bit keys of a few ids do not collide
    assert_same_tables(keyed, text_tables(events, config, RUN_DATE))


CLASHES = {
    # every (customer, type) pair on one key: groups hold several pairs
    "pair key": ("PAIR_KEY", pl.lit(7, dtype=pl.UInt64)),
    # ids of one length share a key: window customers among themselves, and a customer seen
    # only before the window with one of the window's
    "customer key": ("CUSTOMER_KEY", pl.col("customer_id").str.len_bytes().cast(pl.UInt64)),
}


@pytest.mark.parametrize("clash", list(CLASHES))
def test_a_key_that_does_not_tell_ids_apart_falls_back_to_text(
    clash: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ScoringConfig(window_days=7, weights=WEIGHTS)
    events = random_events(3, 300, 40, days=30)
    expected = text_tables(events, config, RUN_DATE)
    name, key = CLASHES[clash]
    monkeypatch.setattr(scoring.keyed, name, key)
    assert keyed_tables(events, config, RUN_DATE) is None
    assert_same_tables(score_tables(events, config, RUN_DATE), expected)


def test_a_customer_seen_only_before_the_window_with_a_window_customers_key_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The one step a key collision could pass silently: the history's anti-join."""
    config = ScoringConfig(window_days=7, weights=WEIGHTS)
    events = pl.LazyFrame(
        {
            "event_id": ["e1", "e2"],
            "customer_id": ["ann", "bob"],  # same length: same (patched) key
            "event_type": ["login", "login"],
            "occurred_at": [datetime(2026, 3, 30, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)],
        },
        schema_overrides={"occurred_at": UTC_TIMESTAMP},
    )
    length = pl.col("customer_id").str.len_bytes().cast(pl.UInt64)
    monkeypatch.setattr(scoring.keyed, "CUSTOMER_KEY", length)
    assert keyed_tables(events, config, RUN_DATE) is None
    scores = score_tables(events, config, RUN_DATE)[0]
    assert scores["customer_id"].to_list() == ["ann", "bob"]  # bob is not lost


@pytest.mark.parametrize("half_life", [None, 3.0])
@pytest.mark.parametrize("clash", [False, True])
def test_window_totals_of_daily_counts_by_keys_equal_those_by_text(
    half_life: float | None, clash: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ScoringConfig(window_days=7, weights=WEIGHTS, half_life_days=half_life)
    daily = daily_event_counts(random_events(5, 2000, 80, days=20)).filter(
        pl.col("event_date").is_between(date(2026, 3, 25), RUN_DATE)
    )
    expected = window_totals_from_daily(daily, config, RUN_DATE).collect()
    if clash:  # every pair on one key: the text ids decide
        monkeypatch.setattr(scoring.keyed, "PAIR_KEY", pl.lit(7, dtype=pl.UInt64))
    actual = window_totals_of_days(daily, config, RUN_DATE)
    assert expected.height > 100
    order = ["customer_id", "event_type"]
    assert_frame_equal(actual.sort(order), expected.sort(order), check_exact=True)
