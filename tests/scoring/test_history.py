"""Score history, deltas and the exact decomposition of a score change by event type."""

from datetime import UTC, date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.config import ScoringConfig
from scoring.engagement import contributions, customer_scores
from scoring.history import (
    change_explanations,
    delta_by_event_type,
    explained_changes,
    score_deltas,
    score_snapshot,
)
from tests.daily_events import event_frame

CONFIG = ScoringConfig(weights={"login": 1, "invite_sent": 4, "app_uninstalled": -20})
BEFORE, TODAY = date(2026, 3, 30), date(2026, 3, 31)


def at(day: int) -> datetime:
    return datetime(2026, 3, day, 12, tzinfo=UTC)


# ana: 12 logins on 1 March fall out of the window of 31 March (window 30 days: 2-31 March);
# she uninstalls the app and sends 2 more invites on 31 March.
ANA = [("ana", "login", at(1))] * 12 + [
    ("ana", "login", at(10)),
    ("ana", "invite_sent", at(10)),
    ("ana", "invite_sent", at(31)),
    ("ana", "invite_sent", at(31)),
    ("ana", "app_uninstalled", at(31)),
]
BEN = [("ben", "login", at(20))]  # no change
EVENTS = event_frame(ANA + BEN + [("cy", "login", at(31))])  # cy is new on 31 March


def test_decomposition_of_the_issue_example_sums_exactly_to_the_delta() -> None:
    today = contributions(EVENTS, CONFIG, TODAY)
    before = contributions(EVENTS, CONFIG, BEFORE)
    decomposition = delta_by_event_type(today, before).collect()
    assert decomposition.filter(pl.col("customer_id") == "ana").select(
        "event_type", "count_before", "count_today", "count_change", "contribution_change"
    ).rows() == [
        ("app_uninstalled", 0, 1, 1, -20.0),
        ("invite_sent", 1, 3, 2, 8.0),
        ("login", 13, 1, -12, -12.0),
    ]
    deltas = score_deltas(
        customer_scores(EVENTS, CONFIG, TODAY), customer_scores(EVENTS, CONFIG, BEFORE)
    ).collect()
    assert deltas.rows() == [
        # customer, score, tier, previous_score, previous_tier, delta, delta %
        ("ana", -7.0, "churn_risk", 17.0, "very_disengaged", -24.0, pytest.approx(-141.176471)),
        ("ben", 1.0, "very_disengaged", 1.0, "very_disengaged", 0.0, 0.0),
        ("cy", 1.0, "very_disengaged", None, None, None, None),
    ]
    sums = decomposition.group_by("customer_id").agg(pl.col("contribution_change").sum())
    assert dict(sums.rows()) == {"ana": -24.0, "cy": 1.0}

    explanations = change_explanations(decomposition.lazy(), deltas.lazy()).collect()
    assert explanations.rows() == [
        ("ana", "-24: 1 more app_uninstalled (-20), 12 fewer login (-12), 2 more invite_sent (+8)"),
        ("ben", "0: no change"),
    ]


def test_the_changes_of_some_customers_are_explained_as_among_all() -> None:
    today, before = contributions(EVENTS, CONFIG, TODAY), contributions(EVENTS, CONFIG, BEFORE)
    deltas = score_deltas(
        customer_scores(EVENTS, CONFIG, TODAY), customer_scores(EVENTS, CONFIG, BEFORE)
    )
    everyone = change_explanations(delta_by_event_type(today, before), deltas).collect()
    for named in (["ana"], ["ben", "cy"], [], ["nobody"]):
        customers = pl.LazyFrame({"customer_id": named}, schema={"customer_id": pl.String})
        some = explained_changes(customers, today, before, deltas).collect()
        assert some.rows() == everyone.filter(pl.col("customer_id").is_in(named)).rows()
        assert some["customer_id"].to_list() == [c for c in ("ana", "ben") if c in named]


def test_delta_percentage_is_null_when_the_previous_score_is_zero() -> None:
    today = pl.LazyFrame({"customer_id": ["a", "b"], "score": [5.0, -5.0], "tier": ["x", "y"]})
    before = pl.LazyFrame({"customer_id": ["a", "b"], "score": [0.0, -10.0], "tier": ["x", "y"]})
    deltas = score_deltas(today, before).collect()
    assert deltas.select("score_delta", "score_delta_pct").rows() == [(5.0, None), (5.0, 50.0)]


def test_snapshot_keeps_scores_and_the_metric_columns_it_finds() -> None:
    scores = customer_scores(EVENTS, CONFIG, TODAY)
    metrics = pl.LazyFrame({"customer_id": ["ben"], "nps_response": [3], "csat": [80.0]})
    snapshot = score_snapshot(scores, metrics).collect()
    assert snapshot.columns == [
        "customer_id",
        "score",
        "tier",
        "event_count",
        "last_event_at",
        "nps_response",
        "effort_score",
        "csat",
        "features_used",
        "feature_adoption_pct",
    ]
    assert snapshot.select("customer_id", "nps_response", "csat", "effort_score").rows() == [
        ("ana", None, None, None),
        ("ben", 3.0, 80.0, None),
        ("cy", None, None, None),
    ]
    assert score_snapshot(scores, None).collect()["nps_response"].null_count() == 3


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["login", "invite", "uninstall", "view"]),
            st.integers(1, 31),
        ),
        max_size=40,
    ),
    st.lists(
        st.floats(-50, 50, allow_nan=False).map(lambda w: round(w, 3)), min_size=4, max_size=4
    ),
    st.integers(1, 10),
)
def test_decomposition_always_sums_to_the_delta(
    rows: list[tuple[str, str, int]], weights: list[float], gap_days: int
) -> None:
    config = ScoringConfig(
        window_days=7,
        weights=dict(zip(["login", "invite", "uninstall", "view"], weights, strict=True)),
    )
    frame = event_frame([(c, t, at(d)) for c, t, d in rows] + [("a", "login", at(1))])
    before_date, today_date = date(2026, 3, 31 - gap_days), TODAY
    deltas = score_deltas(
        customer_scores(frame, config, today_date), customer_scores(frame, config, before_date)
    ).collect()
    decomposition = delta_by_event_type(
        contributions(frame, config, today_date), contributions(frame, config, before_date)
    ).collect()
    explained = dict(
        decomposition.group_by("customer_id").agg(pl.col("contribution_change").sum()).rows()
    )
    for customer, delta, previous in deltas.select(
        "customer_id", "score_delta", "previous_score"
    ).rows():
        if previous is not None:
            assert explained.get(customer, 0.0) == pytest.approx(delta, abs=1e-8)
