"""Backtest rules on tiny hand-made cases: labels, point in time, AUC, ROC, lift, time split."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from scoring.aggregates import daily_event_counts
from scoring.backtest.features import Setting, features_over, scores_of
from scoring.backtest.figures import column_aucs, roc_auc, roc_curve, tier_churn
from scoring.backtest.observations import (
    OBSERVATIONS,
    beyond_observation,
    churn_labels,
    dates_with_full_horizon,
    dropped_per_date,
    last_event_dates,
    observation_dates,
    outside_labels,
    without_history,
)
from scoring.backtest.split import customer_holdout, split_in_time, time_split
from scoring.config import ScoringConfig
from scoring.engagement import customer_scores
from tests.daily_events import event_frame

D = date(2026, 3, 10)


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _observations(scores: list[float], churned: list[bool], **extra: list) -> pl.LazyFrame:
    return pl.LazyFrame({"score": scores, "churned": churned, **extra})


def _labels(events: pl.LazyFrame, window: int, horizon: int, types: list[str]) -> pl.LazyFrame:
    return churn_labels(daily_event_counts(events), window, horizon, types, D)


def _scores(events: pl.LazyFrame, config: ScoringConfig, labels: pl.LazyFrame) -> pl.DataFrame:
    """The backtest's scores of the labelled customers (features of the daily counts)."""
    daily = daily_event_counts(events)
    features = features_over(daily, labels, [Setting.of(config)], [D])
    return (
        scores_of(labels, features, [(0, dict(config.weights))])
        .rename({"score_0": "score"})
        .collect()
    )


# --- labels -------------------------------------------------------------------------------


def test_churn_labels_active_silent_and_churn_event() -> None:
    events = event_frame(
        [
            ("stays", "login", _at(D)),
            ("stays", "login", _at(D + timedelta(days=30), 23)),  # last horizon day: stays
            ("silent", "login", _at(D - timedelta(days=6))),
            ("silent", "login", _at(D + timedelta(days=31))),  # after the horizon: churned
            ("cancels", "login", _at(D)),
            ("cancels", "subscription_cancelled", _at(D + timedelta(days=3))),
            ("cancels", "login", _at(D + timedelta(days=4))),
            ("inactive", "login", _at(D - timedelta(days=7))),  # before the 7-day window
            ("inactive", "login", _at(D + timedelta(days=1))),
            ("future", "login", _at(D + timedelta(days=1))),  # first seen after D
            ("midnight", "login", datetime(2026, 3, 11, tzinfo=UTC)),  # D+1 00:00 is after D
        ]
    )
    labels = _labels(events, 7, 30, ["subscription_cancelled"]).collect()
    assert labels.to_dicts() == [
        {"observation_date": D, "customer_id": "cancels", "churned": True},
        {"observation_date": D, "customer_id": "silent", "churned": True},
        {"observation_date": D, "customer_id": "stays", "churned": False},
    ]
    # without churn event types, the cancelling customer stays (it was seen in the horizon)
    plain = _labels(events, 7, 30, []).collect()
    assert dict(plain.select("customer_id", "churned").iter_rows()) == {
        "cancels": False,
        "silent": True,
        "stays": False,
    }


def test_an_event_after_the_observation_date_never_changes_its_score() -> None:
    config = ScoringConfig(window_days=7, weights={"login": 1, "invite_sent": 10})
    before = [("a", "login", _at(D)), ("a", "invite_sent", _at(D - timedelta(days=2)))]
    before += [("b", "login", _at(D - timedelta(days=1)))]
    after = [("a", "invite_sent", datetime(2026, 3, 11, tzinfo=UTC)), ("b", "login", _at(D, 0))]
    after[1] = ("b", "invite_sent", _at(D + timedelta(days=5)))
    for rows in (before, before + after):
        events = event_frame(rows)
        labels = _labels(events, 7, 30, [])
        assert _scores(events, config, labels).select("customer_id", "score").rows() == [
            ("a", 11.0),
            ("b", 1.0),
        ]
        features = features_over(daily_event_counts(events), labels, [Setting.of(config)], [D])
        assert features.collect().select("customer_id", "event_type", "value_0").rows() == [
            ("a", "invite_sent", 1.0),
            ("a", "login", 1.0),
            ("b", "login", 1.0),
        ]


def test_features_follow_the_decay_of_the_score() -> None:
    config = ScoringConfig(window_days=7, half_life_days=2, weights={"login": 4})
    events = event_frame([("a", "login", _at(D)), ("a", "login", _at(D - timedelta(days=2)))])
    labels = _labels(events, 7, 30, [])
    features = features_over(daily_event_counts(events), labels, [Setting.of(config)], [D])
    assert features.collect()["value_0"].to_list() == [1.5]
    assert _scores(events, config, labels)["score"].to_list() == [6.0]


def test_one_pass_gives_every_setting_its_own_window_and_decay() -> None:
    # a: logins today, 3 and 10 days ago. window 7 counts two; window 14 three; with a
    # half-life of 3 days in a 14-day window: 1 + 0.5 + 0.5 ** (10 / 3)
    events = event_frame([("a", "login", _at(D - timedelta(days=age))) for age in (0, 3, 10)])
    labels = pl.LazyFrame({"observation_date": [D], "customer_id": ["a"]})
    settings = [Setting(7, None), Setting(14, None), Setting(14, 3.0)]
    row = features_over(daily_event_counts(events), labels, settings, [D]).collect().row(0)
    assert row[3:] == (2.0, 3.0, pytest.approx(1.5 + 0.5 ** (10 / 3)))
    # as of the day before, today's login is not there yet
    earlier = features_over(daily_event_counts(events), labels, settings, [D], days_before=1)
    assert earlier.collect().row(0)[3] == 1.0


def test_outside_labels_and_observation_ends() -> None:
    labels = pl.LazyFrame(
        {
            "customer_id": ["a", "b", "c", "a"],
            "observation_date": [D, D, D, D + timedelta(days=7)],
            "churned": [True, False, False, True],
            "observed_until": [None, D + timedelta(days=13), D + timedelta(days=14), None],
        },
        schema_overrides={"observation_date": pl.Date, "observed_until": pl.Date},
    )
    kept = outside_labels(labels, [D]).collect()
    assert kept.schema == OBSERVATIONS
    assert kept["customer_id"].to_list() == ["a", "b", "c"]
    # a 14-day horizon from D ends on D + 14: b's observation ended a day before
    flagged = labels.with_columns(beyond_observation(14).alias("beyond")).collect()
    assert flagged["beyond"].to_list() == [False, True, False, False]
    assert dropped_per_date(labels, 14).collect().rows() == [(D, 1)]


def test_observations_without_history() -> None:
    events = event_frame([("a", "login", _at(D)), ("b", "login", _at(D + timedelta(days=1)))])
    observations = pl.LazyFrame({"observation_date": [D] * 3, "customer_id": ["a", "b", "zz"]})
    found = without_history(observations, daily_event_counts(events)).collect()
    assert sorted(found["customer_id"].to_list()) == ["b", "zz"]  # b's first event is after D


def test_last_event_dates_are_as_of_each_observation() -> None:
    events = event_frame(
        [("a", "login", _at(D - timedelta(days=40))), ("a", "login", _at(D + timedelta(days=2)))]
    )
    observations = pl.LazyFrame(
        {"observation_date": [D, D + timedelta(days=3)], "customer_id": ["a", "a"]}
    )
    found = last_event_dates(daily_event_counts(events), observations).collect()
    assert found.sort("observation_date")["last_event_date"].to_list() == [
        D - timedelta(days=40),
        D + timedelta(days=2),
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from("abcd"),
            st.sampled_from(["login", "invite_sent", "x"]),
            st.integers(0, 40),
        ),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from([Setting(7, None), Setting(30, None), Setting(14, 3.0), Setting(30, 7.5)]),
)
def test_backtest_scores_equal_the_run_scores(
    spec: list[tuple[str, str, int]], setting: Setting
) -> None:
    """Property: the score from the daily counts' features equals customer_scores (what
    `engage run` computes) for every customer seen, at any window and half-life."""
    config = setting.applied_to(ScoringConfig(weights={"login": 1.5, "invite_sent": -4}))
    events = event_frame([(c, t, _at(D - timedelta(days=age), 5)) for c, t, age in spec])
    expected = customer_scores(events, config, D).select("customer_id", "score").collect()
    keys = expected.select(pl.lit(D).alias("observation_date"), "customer_id").lazy()
    got = _scores(events, config, keys)
    assert got["customer_id"].to_list() == expected["customer_id"].to_list()
    assert got["score"].to_list() == pytest.approx(expected["score"].to_list(), abs=1e-9)


# --- AUC ----------------------------------------------------------------------------------


def test_auc_hand_computed_with_ties() -> None:
    # retained scores 3, 2, 2; churned 2, 1. Pairs (retained, churned):
    # (3,2) 1, (3,1) 1, (2,2) 1/2, (2,1) 1, (2,2) 1/2, (2,1) 1 -> 5 of 6
    observations = _observations([3, 2, 2, 2, 1], [False, False, False, True, True])
    result = roc_auc(observations).collect()
    assert result.to_dicts() == [
        {"customers": 5, "churned": 2, "churn_rate": 0.4, "auc": pytest.approx(5 / 6)}
    ]


def test_auc_extremes_all_tied_and_one_class() -> None:
    perfect = roc_auc(_observations([5, 4, 1], [False, False, True])).collect()
    assert perfect["auc"].to_list() == [1.0]
    reversed_ = roc_auc(_observations([1, 4, 5], [False, True, True])).collect()
    assert reversed_["auc"].to_list() == [0.0]
    tied = roc_auc(_observations([0, 0, 0, 0], [False, True, False, True])).collect()
    assert tied["auc"].to_list() == [0.5]
    one_class = roc_auc(_observations([1, 2], [False, False])).collect()
    assert one_class["auc"].to_list() == [None]


def test_auc_per_group() -> None:
    observations = _observations(
        [1, 2, 2, 1], [True, False, False, True], group=["x", "x", "y", "y"]
    )
    result = roc_auc(observations, ["group"]).collect()
    assert result.select("group", "auc").rows() == [("x", 1.0), ("y", 1.0)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-3, 3).map(float), st.booleans()), min_size=2, max_size=40
    ).filter(lambda rows: len({churned for _, churned in rows}) == 2)
)
def test_auc_matches_sklearn(rows: list[tuple[float, bool]]) -> None:
    scores = [s for s, _ in rows]
    churned = [c for _, c in rows]
    ours = roc_auc(_observations(scores, churned)).collect()["auc"][0]
    # sklearn: positive class = retained (not churned), higher score = more likely retained
    assert ours == pytest.approx(roc_auc_score([not c for c in churned], scores), abs=1e-12)


def test_column_aucs_equal_roc_auc_per_column() -> None:
    churned = [False, False, False, True, True]
    frame = pl.LazyFrame({"a": [3, 2, 2, 2, 1], "b": [1, 4, 5, 0, 0], "churned": churned})
    found = column_aucs(frame, ["a", "b"]).collect().row(0)
    assert found == (pytest.approx(5 / 6), 1.0)
    one_class = pl.LazyFrame({"a": [1, 2], "churned": [False, False]})
    assert column_aucs(one_class, ["a"]).collect().row(0) == (None,)


def test_roc_curve_points() -> None:
    observations = _observations([3, 2, 2, 2, 1], [False, False, False, True, True])
    curve = roc_curve(observations).collect()
    assert curve.rows() == [
        (3.0, 0.0, pytest.approx(1 / 3)),
        (2.0, 0.5, 1.0),
        (1.0, 1.0, 1.0),
    ]
    # trapezoid area under (0,0) + the points equals the AUC
    fpr = np.array([0.0, *curve["fpr"].to_list()])
    tpr = np.array([0.0, *curve["tpr"].to_list()])
    assert np.trapezoid(tpr, fpr) == pytest.approx(5 / 6)


# --- tiers and lift -----------------------------------------------------------------------


def test_tier_churn_and_lift_hand_computed() -> None:
    # 10 customers, 4 churned (base 0.4): churn_risk 2 of 2, very_disengaged 2 of 4,
    # somewhat_engaged 0 of 3, power_user 0 of 1, highly_engaged empty
    tiers = ["churn_risk"] * 2 + ["very_disengaged"] * 4 + ["somewhat_engaged"] * 3
    tiers += ["power_user"]
    churned = [True, True, True, True, False, False, False, False, False, False]
    observations = pl.LazyFrame({"tier": tiers, "churned": churned, "score": [0.0] * 10})
    result = tier_churn(observations).collect()
    assert result.select("tier", "customers", "churned").rows() == [
        ("churn_risk", 2, 2),
        ("very_disengaged", 4, 2),
        ("somewhat_engaged", 3, 0),
        ("highly_engaged", 0, 0),
        ("power_user", 1, 0),
    ]
    assert result["share"].to_list() == [0.2, 0.4, 0.3, 0.0, 0.1]
    assert result["churn_rate"].to_list() == [1.0, 0.5, 0.0, None, 0.0]
    assert result["base_churn_rate"].to_list() == [0.4] * 5
    assert result["lift"].to_list() == [pytest.approx(2.5), pytest.approx(1.25), 0.0, None, 0.0]


def test_lift_is_null_without_churners() -> None:
    observations = pl.LazyFrame({"tier": ["power_user"], "churned": [False], "score": [200.0]})
    result = tier_churn(observations).collect()
    assert result.filter(pl.col("tier") == "power_user")["lift"].to_list() == [None]


# --- dates and the time split -------------------------------------------------------------


def test_observation_dates_and_full_horizon() -> None:
    dates = observation_dates(date(2026, 1, 1), date(2026, 1, 20), 7)
    assert dates == [date(2026, 1, 1), date(2026, 1, 8), date(2026, 1, 15)]
    assert dates_with_full_horizon(dates, date(2026, 2, 7), 30) == dates[:2]
    with pytest.raises(ValueError, match="before it starts"):
        observation_dates(date(2026, 1, 2), date(2026, 1, 1), 7)


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 30), st.integers(1, 14), st.integers(1, 60))
def test_time_split_never_leaks(count: int, every: int, horizon: int) -> None:
    dates = observation_dates(date(2026, 1, 1), date(2026, 1, 1) + timedelta(every * count), every)
    split = time_split(dates, horizon)
    if split is None:
        # no training date's horizon ends before the last date
        assert dates[0] + timedelta(days=horizon) > dates[-1]
        return
    assert split.train and split.test
    assert max(split.train) < min(split.test)
    assert all(d + timedelta(days=horizon) <= min(split.test) for d in split.train)
    assert sorted(split.train + split.test + split.gap) == dates


def test_time_split_hand_computed() -> None:
    dates = observation_dates(date(2026, 1, 1), date(2026, 3, 5), 7)  # 10 dates
    split = time_split(dates, 30)
    assert split is not None
    # Jan 1, 8, ..., Mar 5. Test from Feb 19: train = D + 30 <= Feb 19 = Jan 1, 8, 15 (3 vs 3);
    # from Feb 12: 2 vs 4; from Feb 26: 4 vs 2 -> Feb 19 has the larger smaller side
    assert split.train == (date(2026, 1, 1), date(2026, 1, 8), date(2026, 1, 15))
    assert split.test == (date(2026, 2, 19), date(2026, 2, 26), date(2026, 3, 5))
    assert split.period_of(date(2026, 1, 22)) == "gap"


def test_split_in_time_falls_back_with_a_note() -> None:
    dates = [date(2026, 1, 8), date(2026, 1, 15)]
    split, notes = split_in_time(dates, 14, "inner validation")
    assert split is not None and split.train == (dates[0],) and split.test == (dates[1],)
    assert "overlaps the inner validation period by 7 day(s)" in notes[0]
    assert split_in_time(dates, 7) == (time_split(dates, 7), [])
    assert split_in_time(dates[:1], 7) == (None, [])


def test_customer_holdout_keeps_a_customer_on_one_side() -> None:
    frame = pl.DataFrame({"customer_id": [f"c{i}" for i in range(300)] * 2})
    held = frame.with_columns(customer_holdout().alias("held"))
    assert held.group_by("customer_id").agg(pl.col("held").n_unique())["held"].max() == 1
    assert 0.2 < held["held"].mean() < 0.45  # type: ignore[operator]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from("abc"),
            st.sampled_from(["login", "invite_sent", "x"]),
            st.integers(-20, -0),
        ),
        min_size=1,
        max_size=15,
    ),
    st.lists(
        st.tuples(
            st.sampled_from("abcd"),
            st.sampled_from(["login", "invite_sent", "x"]),
            st.integers(1, 40),
        ),
        max_size=15,
    ),
)
def test_later_events_never_change_scores_or_features(
    past: list[tuple[str, str, int]], future: list[tuple[str, str, int]]
) -> None:
    """Property: adding any events after the observation date (its day ends at midnight)
    changes neither the scores, nor the active customers, nor the fit's features."""
    config = ScoringConfig(window_days=10, weights={"login": 1.5, "invite_sent": -4})
    settings = [Setting(10, None), Setting(30, 4.0)]

    def rows(spec: list[tuple[str, str, int]]) -> list[tuple[str, str, datetime]]:
        return [
            (c, t, _at(D + timedelta(days=offset), 23 if offset == 0 else 1))
            for c, t, offset in spec
        ]

    found = []
    for events in (event_frame(rows(past)), event_frame(rows(past + future))):
        labels = _labels(events, 10, 30, [])
        features = features_over(daily_event_counts(events), labels, settings, [D]).collect()
        found.append((_scores(events, config, labels).drop("churned"), features))
    assert found[0][0].equals(found[1][0])
    assert found[0][1].equals(found[1][1])
