"""CES, contributions and tiers on small inline frames with hand-computed expectations.

Unless a test says otherwise: run date 2026-01-31, 30-day window, so the window is
[2026-01-02 00:00:00 UTC, 2026-02-01 00:00:00 UTC).
"""

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from scoring.config import ScoringConfig, TierBoundaries
from scoring.engagement import (
    Window,
    contributions,
    customer_scores,
    decay_by_age,
    events_in_window,
    tier_distribution,
    tier_of,
)
from scoring.schema import CONTRIBUTIONS, SCORES, TIERS, polars_schema
from tests.scoring.as_run import first_occurrences, unweighted_event_types

MakeEvents = Callable[[Sequence[tuple[str, str, str, str]]], pl.LazyFrame]

RUN_DATE = date(2026, 1, 31)
WINDOW_START = datetime(2026, 1, 2, tzinfo=UTC)
WINDOW_END = datetime(2026, 2, 1, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type]


def repeated(
    customer: str, event_type: str, count: int, at: str
) -> list[tuple[str, str, str, str]]:
    """`count` distinct events of one type for one customer, all at `at`."""
    return [(f"{customer}-{event_type}-{i}", customer, event_type, at) for i in range(count)]


def scores_by_customer(scores: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {row["customer_id"]: row for row in scores.iter_rows(named=True)}


# --- the window -------------------------------------------------------------------------------


def test_window_is_the_window_days_ending_on_the_run_date() -> None:
    window = Window.ending_on(RUN_DATE, 30)
    assert (window.start, window.end, window.run_date) == (WINDOW_START, WINDOW_END, RUN_DATE)


def test_one_day_window_crossing_a_leap_day() -> None:
    window = Window.ending_on(date(2024, 3, 1), 2)
    assert window.start == utc(2024, 2, 29)
    assert window.end == utc(2024, 3, 2)


@pytest.mark.parametrize(
    ("occurred_at", "in_window", "has_row"),
    [
        pytest.param("2026-01-02T00:00:00Z", True, True, id="first second of the window"),
        pytest.param("2026-01-02T00:00:00.000001Z", True, True, id="first microsecond + 1"),
        pytest.param("2026-01-01T23:59:59Z", False, True, id="second before the window"),
        pytest.param("2026-01-01T23:59:59.999999Z", False, True, id="microsecond before window"),
        pytest.param("2026-01-31T23:59:59.999999Z", True, True, id="last microsecond of run date"),
        pytest.param("2026-01-31T12:00:00Z", True, True, id="middle of the run date"),
        pytest.param("2026-02-01T00:00:00Z", False, False, id="first microsecond after"),
        pytest.param("2026-02-01T00:00:00.000001Z", False, False, id="just after the run date"),
        pytest.param("2026-03-01T00:00:00Z", False, False, id="a month after"),
        # offsets that move the event across a UTC day boundary
        pytest.param("2026-01-31T23:30:00-01:00", False, False, id="-01:00 is Feb 1 UTC"),
        pytest.param("2026-02-01T00:30:00+01:00", True, True, id="+01:00 is Jan 31 UTC"),
        pytest.param("2026-02-01T05:59:59+0600", True, True, id="+0600 is Jan 31 23:59:59 UTC"),
        pytest.param("2026-01-02T00:30:00+01:00", False, True, id="+01:00 is Jan 1 UTC"),
        pytest.param("2026-01-01T23:30:00-01:00", True, True, id="-01:00 is Jan 2 UTC"),
        pytest.param("2026-01-31 23:59:59", True, True, id="naive text is UTC"),
        pytest.param("2026-01-02", True, True, id="bare date is midnight UTC"),
    ],
)
def test_window_edges(
    make_events: MakeEvents, occurred_at: str, in_window: bool, has_row: bool
) -> None:
    events = make_events([("e1", "alice", "login", occurred_at)])
    config = ScoringConfig(weights={"login": 7.0})

    scores = customer_scores(events, config, RUN_DATE).collect()
    parts = contributions(events, config, RUN_DATE).collect()

    if not has_row:
        assert scores.is_empty()
        assert parts.is_empty()
        return
    expected_at = events.collect()["occurred_at"][0]
    assert scores.rows() == [
        (
            "alice",
            7.0 if in_window else 0.0,
            "very_disengaged",
            1 if in_window else 0,
            expected_at,
        )
    ]
    assert parts.height == (1 if in_window else 0)
    assert events_in_window(events, Window.ending_on(RUN_DATE, 30)).collect().height == (
        1 if in_window else 0
    )


def test_window_days_one_counts_only_the_run_date(make_events: MakeEvents) -> None:
    events = make_events(
        [
            ("e1", "alice", "login", "2026-01-30T23:59:59.999999Z"),
            ("e2", "alice", "login", "2026-01-31T00:00:00Z"),
            ("e3", "alice", "login", "2026-01-31T23:59:59.999999Z"),
            ("e4", "alice", "login", "2026-02-01T00:00:00Z"),
        ]
    )
    scores = customer_scores(events, ScoringConfig(window_days=1, weights={"login": 1}), RUN_DATE)
    assert scores.collect().rows() == [
        ("alice", 2.0, "very_disengaged", 2, utc(2026, 1, 31, 23, 59, 59, 999999))
    ]


def test_a_longer_window_reaches_further_back(make_events: MakeEvents) -> None:
    events = make_events(
        [
            ("e1", "alice", "login", "2025-12-03T00:00:00Z"),  # first day of a 60-day window
            ("e2", "alice", "login", "2025-12-02T23:59:59Z"),  # one second too early
            ("e3", "alice", "login", "2026-01-15T00:00:00Z"),
        ]
    )
    scores = customer_scores(events, ScoringConfig(window_days=60, weights={"login": 1}), RUN_DATE)
    assert scores.collect()["score"].to_list() == [2.0]


# --- the score --------------------------------------------------------------------------------

WEIGHTS = {"login": 1.0, "invite": 10.0, "feature_used": 2.5, "uninstalled": -20.0}


def test_hand_computed_scores_tiers_and_counts(make_events: MakeEvents) -> None:
    day = "2026-01-20T10:00:00Z"
    rows = [
        # alice: 3 x 1 + 2 x 10 + 4 x 2.5 = 33, plus 1 unweighted page_view -> 10 events
        *repeated("alice", "login", 3, day),
        *repeated("alice", "invite", 2, day),
        *repeated("alice", "feature_used", 4, "2026-01-31T23:00:00Z"),
        *repeated("alice", "page_view", 1, day),
        # bob: -20 + 1 = -19
        *repeated("bob", "uninstalled", 1, day),
        *repeated("bob", "login", 1, day),
        # carol: 5 x 10 + 8 x 2.5 + 1 = 71
        *repeated("carol", "invite", 5, day),
        *repeated("carol", "feature_used", 8, day),
        *repeated("carol", "login", 1, day),
        # dave: 10 x 10 + 1 = 101
        *repeated("dave", "invite", 10, day),
        *repeated("dave", "login", 1, day),
        # erin: only unweighted events -> 0, but they are counted
        *repeated("erin", "page_view", 2, day),
        # frank: only before the window -> a row with 0 and the last event before the window
        *repeated("frank", "invite", 9, "2025-12-24T08:00:00Z"),
        ("frank-late", "frank", "login", "2026-01-01T23:59:59Z"),
        # gina: only after the run date -> no row at all
        *repeated("gina", "invite", 3, "2026-02-01T00:00:00Z"),
        # hank: 4 x 10 + 1 x 2.5 = 42.5, and a later event after the run date that is ignored
        *repeated("hank", "invite", 4, day),
        *repeated("hank", "feature_used", 1, "2026-01-02T00:00:00Z"),
        ("hank-future", "hank", "invite", "2026-02-03T00:00:00Z"),
    ]
    events = make_events(rows)
    config = ScoringConfig(weights=WEIGHTS)

    scores = customer_scores(events, config, RUN_DATE).collect()

    jan20 = utc(2026, 1, 20, 10)
    expected = pl.DataFrame(
        [
            ("alice", 33.0, "very_disengaged", 10, utc(2026, 1, 31, 23)),
            ("bob", -19.0, "churn_risk", 2, jan20),
            ("carol", 71.0, "highly_engaged", 14, jan20),
            ("dave", 101.0, "power_user", 11, jan20),
            ("erin", 0.0, "very_disengaged", 2, jan20),
            ("frank", 0.0, "very_disengaged", 0, utc(2026, 1, 1, 23, 59, 59)),
            ("hank", 42.5, "somewhat_engaged", 5, jan20),
        ],
        schema=polars_schema(SCORES),
        orient="row",
    )
    assert_frame_equal(scores, expected, check_exact=True)


def test_contributions_hand_computed(make_events: MakeEvents) -> None:
    day = "2026-01-20T10:00:00Z"
    events = make_events(
        [
            *repeated("alice", "login", 3, day),
            *repeated("alice", "invite", 2, day),
            *repeated("alice", "page_view", 5, day),  # unweighted: no contribution row
            *repeated("alice", "invite", 4, "2026-01-01T00:00:00Z"),  # before the window
            *repeated("bob", "uninstalled", 1, day),
            *repeated("bob", "feature_used", 3, day),
            *repeated("carol", "page_view", 1, day),  # no weighted events: no rows
        ]
    )
    parts = contributions(events, ScoringConfig(weights=WEIGHTS), RUN_DATE).collect()
    expected = pl.DataFrame(
        [
            ("alice", "invite", 2, 10.0, 20.0),
            ("alice", "login", 3, 1.0, 3.0),
            ("bob", "feature_used", 3, 2.5, 7.5),
            ("bob", "uninstalled", 1, -20.0, -20.0),
        ],
        schema=polars_schema(CONTRIBUTIONS),
        orient="row",
    )
    assert_frame_equal(parts, expected, check_exact=True)

    scores = customer_scores(events, ScoringConfig(weights=WEIGHTS), RUN_DATE).collect()
    totals = dict(parts.group_by("customer_id").agg(pl.col("contribution").sum()).iter_rows())
    assert scores_by_customer(scores)["alice"]["score"] == totals["alice"] == 23.0
    assert scores_by_customer(scores)["bob"]["score"] == totals["bob"] == -12.5
    assert scores_by_customer(scores)["carol"]["score"] == 0.0


def test_output_schemas_match_the_contracts(make_events: MakeEvents) -> None:
    events = make_events([("e1", "alice", "login", "2026-01-20T10:00:00Z")])
    config = ScoringConfig(weights={"login": 1})
    assert customer_scores(events, config, RUN_DATE).collect().schema == polars_schema(SCORES)
    assert contributions(events, config, RUN_DATE).collect().schema == polars_schema(CONTRIBUTIONS)


def test_no_events_gives_empty_frames_with_the_contract_schema(make_events: MakeEvents) -> None:
    events = make_events([])
    config = ScoringConfig(weights=WEIGHTS)
    scores = customer_scores(events, config, RUN_DATE).collect()
    parts = contributions(events, config, RUN_DATE).collect()
    assert scores.is_empty() and scores.schema == polars_schema(SCORES)
    assert parts.is_empty() and parts.schema == polars_schema(CONTRIBUTIONS)
    assert unweighted_event_types(events, config, RUN_DATE).collect().is_empty()


def test_no_weights_scores_everyone_zero(make_events: MakeEvents) -> None:
    events = make_events(
        [
            ("e1", "alice", "login", "2026-01-20T10:00:00Z"),
            ("e2", "bob", "invite", "2026-01-21T10:00:00Z"),
        ]
    )
    config = ScoringConfig()
    scores = customer_scores(events, config, RUN_DATE).collect()
    assert scores.select("customer_id", "score", "tier", "event_count").rows() == [
        ("alice", 0.0, "very_disengaged", 1),
        ("bob", 0.0, "very_disengaged", 1),
    ]
    assert contributions(events, config, RUN_DATE).collect().is_empty()
    assert unweighted_event_types(events, config, RUN_DATE).collect().rows() == [
        ("invite", 1),
        ("login", 1),
    ]


def test_negative_and_fractional_weights(make_events: MakeEvents) -> None:
    day = "2026-01-20T10:00:00Z"
    events = make_events(
        [
            *repeated("alice", "downgrade", 1, day),  # -0.5
            *repeated("bob", "click", 3, day),  # 3 x 0.25 = 0.75
            *repeated("bob", "downgrade", 1, day),  # -0.5 -> 0.25
            *repeated("carol", "escalation", 2, day),  # 2 x -12.75 = -25.5
            *repeated("carol", "click", 4, day),  # + 1 -> -24.5
        ]
    )
    config = ScoringConfig(weights={"downgrade": -0.5, "click": 0.25, "escalation": -12.75})
    scores = customer_scores(events, config, RUN_DATE).collect()
    assert scores.select("customer_id", "score", "tier").rows() == [
        ("alice", -0.5, "churn_risk"),
        ("bob", 0.25, "very_disengaged"),
        ("carol", -24.5, "churn_risk"),
    ]


def test_float_noise_does_not_move_a_score_across_a_boundary(make_events: MakeEvents) -> None:
    day = "2026-01-20T10:00:00Z"
    events = make_events(
        [
            # 3 x -0.1 + 0.3 is -5.6e-17 in floating point: exactly 0 -> not churn_risk
            *repeated("alice", "a_small_minus", 3, day),
            *repeated("alice", "b_plus", 1, day),
            # 39.7 + 0.2 + 0.1 is 40.00000000000001 in floating point: exactly 40
            *repeated("bob", "a_big", 1, day),
            *repeated("bob", "b_mid", 1, day),
            *repeated("bob", "c_tiny", 1, day),
        ]
    )
    config = ScoringConfig(
        weights={"a_small_minus": -0.1, "b_plus": 0.3, "a_big": 39.7, "b_mid": 0.2, "c_tiny": 0.1}
    )
    scores = customer_scores(events, config, RUN_DATE).collect()
    assert scores.select("customer_id", "score", "tier").rows() == [
        ("alice", 0.0, "very_disengaged"),
        ("bob", 40.0, "very_disengaged"),
    ]


def test_a_weight_of_zero_is_listed_but_adds_nothing(make_events: MakeEvents) -> None:
    events = make_events(
        [
            ("e1", "alice", "seen", "2026-01-20T10:00:00Z"),
            ("e2", "alice", "login", "2026-01-20T10:00:00Z"),
        ]
    )
    config = ScoringConfig(weights={"seen": 0.0, "login": 2.0})
    assert contributions(events, config, RUN_DATE).collect().rows() == [
        ("alice", "login", 1, 2.0, 2.0),
        ("alice", "seen", 1, 0.0, 0.0),
    ]
    assert customer_scores(events, config, RUN_DATE).collect()["score"].to_list() == [2.0]
    assert unweighted_event_types(events, config, RUN_DATE).collect().is_empty()


# --- tiers ------------------------------------------------------------------------------------

TIER_CASES = [
    pytest.param(-1000.0, "churn_risk", id="-1000"),
    pytest.param(-0.5, "churn_risk", id="-0.5"),
    pytest.param(-1e-9, "churn_risk", id="-1e-9"),
    pytest.param(0.0, "very_disengaged", id="0"),
    pytest.param(1.0, "very_disengaged", id="1"),
    pytest.param(40.0, "very_disengaged", id="40"),
    pytest.param(40.0001, "somewhat_engaged", id="40.0001"),
    pytest.param(41.0, "somewhat_engaged", id="41"),
    pytest.param(70.0, "somewhat_engaged", id="70"),
    pytest.param(70.0001, "highly_engaged", id="70.0001"),
    pytest.param(71.0, "highly_engaged", id="71"),
    pytest.param(100.0, "highly_engaged", id="100"),
    pytest.param(100.5, "power_user", id="100.5"),
    pytest.param(101.0, "power_user", id="101"),
    pytest.param(1e9, "power_user", id="1e9"),
]


@pytest.mark.parametrize(("score", "tier"), TIER_CASES)
def test_tier_of_spec_table(score: float, tier: str) -> None:
    frame = pl.DataFrame({"score": [score]})
    result = frame.select(tier_of(pl.col("score"), TierBoundaries()).alias("tier"))
    assert result["tier"].to_list() == [tier]


@pytest.mark.parametrize(("score", "tier"), TIER_CASES)
def test_tier_through_customer_scores(make_events: MakeEvents, score: float, tier: str) -> None:
    events = make_events([("e1", "alice", "it", "2026-01-20T10:00:00Z")])
    scores = customer_scores(events, ScoringConfig(weights={"it": score}), RUN_DATE).collect()
    assert scores.select("score", "tier").rows() == [(score, tier)]


def test_tier_of_whole_frame_covers_every_tier_in_order() -> None:
    scores = pl.LazyFrame({"score": [-0.5, 0.0, 40.0, 40.0001, 70.0, 100.0, 100.5]})
    tiers = scores.select(tier_of(pl.col("score"), TierBoundaries()).alias("tier")).collect()
    assert tiers["tier"].to_list() == [
        "churn_risk",
        "very_disengaged",
        "very_disengaged",
        "somewhat_engaged",
        "somewhat_engaged",
        "highly_engaged",
        "power_user",
    ]
    assert set(tiers["tier"]) == set(TIERS)


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (-10.5, "churn_risk"),
        (-10.0, "very_disengaged"),
        (-3.0, "very_disengaged"),
        (5.0, "very_disengaged"),
        (5.5, "somewhat_engaged"),
        (10.0, "somewhat_engaged"),
        (10.25, "highly_engaged"),
        (20.0, "highly_engaged"),
        (20.5, "power_user"),
        (41.0, "power_user"),
    ],
)
def test_configured_tier_boundaries(make_events: MakeEvents, score: float, tier: str) -> None:
    boundaries = TierBoundaries(
        churn_risk_below=-10.0,
        very_disengaged_max=5.0,
        somewhat_engaged_max=10.0,
        highly_engaged_max=20.0,
    )
    direct = pl.select(tier_of(pl.lit(score), boundaries).alias("tier")).item()
    assert direct == tier

    events = make_events([("e1", "alice", "it", "2026-01-20T10:00:00Z")])
    config = ScoringConfig(weights={"it": score}, tiers=boundaries)
    assert customer_scores(events, config, RUN_DATE).collect()["tier"].to_list() == [tier]


def test_tier_distribution_lists_every_tier_in_order() -> None:
    scores = pl.LazyFrame(
        {"tier": ["power_user", "churn_risk", "power_user", "very_disengaged", "power_user"]}
    )
    assert tier_distribution(scores).collect().rows() == [
        ("churn_risk", 1),
        ("very_disengaged", 1),
        ("somewhat_engaged", 0),
        ("highly_engaged", 0),
        ("power_user", 3),
    ]


def test_tier_distribution_of_nobody() -> None:
    empty = pl.LazyFrame({"tier": []}, schema={"tier": pl.String})
    assert tier_distribution(empty).collect().rows() == [(tier, 0) for tier in TIERS]


# --- who gets a row, and last_event_at ---------------------------------------------------------


def test_customers_without_events_in_the_window(make_events: MakeEvents) -> None:
    events = make_events(
        [
            ("e1", "quiet", "invite", "2025-06-01T00:00:00Z"),
            ("e2", "quiet", "invite", "2026-01-01T23:59:59.999999Z"),  # latest before window
            ("e3", "quiet", "invite", "2026-02-01T00:00:00Z"),  # after the run date: ignored
            ("e4", "future", "invite", "2026-02-01T00:00:00Z"),
            ("e5", "future", "invite", "2026-03-01T00:00:00Z"),
            ("e6", "active", "invite", "2026-01-10T00:00:00Z"),
            ("e7", "active", "page_view", "2026-01-31T23:00:00-01:00"),  # Feb 1 00:00 UTC
        ]
    )
    scores = customer_scores(events, ScoringConfig(weights={"invite": 10}), RUN_DATE).collect()
    assert scores.rows() == [
        ("active", 10.0, "very_disengaged", 1, utc(2026, 1, 10)),
        ("quiet", 0.0, "very_disengaged", 0, utc(2026, 1, 1, 23, 59, 59, 999999)),
    ]


def test_event_count_counts_every_type_and_last_event_at_any_type(
    make_events: MakeEvents,
) -> None:
    events = make_events(
        [
            ("e1", "alice", "login", "2026-01-10T00:00:00Z"),
            ("e2", "alice", "never_weighted", "2026-01-30T00:00:00Z"),
            ("e3", "alice", "never_weighted", "2026-01-31T08:00:00Z"),
        ]
    )
    scores = customer_scores(events, ScoringConfig(weights={"login": 3}), RUN_DATE).collect()
    assert scores.rows() == [("alice", 3.0, "very_disengaged", 3, utc(2026, 1, 31, 8))]


def test_rerunning_an_old_date_gives_the_same_result(make_events: MakeEvents) -> None:
    history = [
        ("e1", "alice", "login", "2026-01-10T00:00:00Z"),
        ("e2", "alice", "invite", "2026-01-31T23:59:59.999999Z"),
        ("e3", "bob", "login", "2025-12-01T00:00:00Z"),
    ]
    later = [
        ("e4", "alice", "invite", "2026-02-01T00:00:00Z"),
        ("e5", "bob", "invite", "2026-02-02T00:00:00Z"),
        ("e6", "carol", "invite", "2026-02-03T00:00:00Z"),
        ("e7", "alice", "page_view", "2026-01-31T23:59:00-00:01"),
    ]
    config = ScoringConfig(weights={"login": 1, "invite": 10})
    then = make_events(history)
    now = make_events([*history, *later])
    for function in (customer_scores, contributions, unweighted_event_types):
        assert_frame_equal(
            function(then, config, RUN_DATE).collect(),
            function(now, config, RUN_DATE).collect(),
        )


def test_unweighted_event_types_counts_in_window_only(make_events: MakeEvents) -> None:
    events = make_events(
        [
            ("e1", "alice", "page_view", "2026-01-20T00:00:00Z"),
            ("e2", "bob", "page_view", "2026-01-21T00:00:00Z"),
            ("e3", "bob", "hover", "2026-01-31T23:59:59Z"),
            ("e4", "bob", "hover", "2026-02-01T00:00:00Z"),  # after the run date
            ("e5", "bob", "scroll", "2026-01-01T00:00:00Z"),  # before the window
            ("e6", "bob", "login", "2026-01-21T00:00:00Z"),  # weighted
        ]
    )
    config = ScoringConfig(weights={"login": 1})
    result = unweighted_event_types(events, config, RUN_DATE).collect()
    assert result.rows() == [("hover", 1), ("page_view", 2)]
    assert result.schema == pl.Schema({"event_type": pl.String, "count": pl.Int64})


# --- duplicates ----------------------------------------------------------------------------------


def test_duplicate_event_ids_count_once(make_events: MakeEvents) -> None:
    events = make_events(
        [
            ("e1", "alice", "invite", "2026-01-20T00:00:00Z"),
            ("e1", "alice", "invite", "2026-01-20T00:00:00Z"),  # exact copy
            ("e1", "alice", "invite", "2026-01-20T00:00:00Z"),  # and another
            ("e2", "alice", "login", "2026-01-21T00:00:00Z"),
            ("e3", "bob", "invite", "2026-01-22T00:00:00Z"),
            ("e3", "bob", "login", "2026-01-22T00:00:00Z"),  # same id, later row: dropped
            ("e4", "carol", "login", "2025-01-01T00:00:00Z"),  # first: before the window
            ("e4", "carol", "invite", "2026-01-22T00:00:00Z"),  # later row in window: dropped
        ]
    )
    config = ScoringConfig(weights={"login": 1, "invite": 10})
    scores = customer_scores(first_occurrences(events), config, RUN_DATE).collect()
    assert scores.rows() == [
        ("alice", 11.0, "very_disengaged", 2, utc(2026, 1, 21)),
        ("bob", 10.0, "very_disengaged", 1, utc(2026, 1, 22)),
        ("carol", 0.0, "very_disengaged", 0, utc(2025, 1, 1)),
    ]
    assert contributions(first_occurrences(events), config, RUN_DATE).collect().rows() == [
        ("alice", "invite", 1, 10.0, 10.0),
        ("alice", "login", 1, 1.0, 1.0),
        ("bob", "invite", 1, 10.0, 10.0),
    ]


def test_duplicates_keep_the_lowest_row_whatever_the_frame_order(
    make_events: MakeEvents,
) -> None:
    events = make_events(
        [
            ("e1", "alice", "invite", "2026-01-20T00:00:00Z"),  # _row 0: kept
            ("e1", "alice", "login", "2026-01-20T00:00:00Z"),  # _row 1
        ]
    )
    reversed_frame = events.reverse()
    config = ScoringConfig(weights={"login": 1, "invite": 10})
    scores = customer_scores(first_occurrences(reversed_frame), config, RUN_DATE).collect()
    assert scores["score"].to_list() == [10.0]


# --- decay ---------------------------------------------------------------------------------------


def test_decay_hand_computed(make_events: MakeEvents) -> None:
    events = make_events(
        [
            ("e1", "alice", "invite", "2026-01-31T23:59:59Z"),  # age 0 -> 1
            ("e2", "alice", "invite", "2026-01-30T00:00:00Z"),  # age 1 -> 0.5 ** 0.5
            ("e3", "alice", "invite", "2026-01-27T12:00:00Z"),  # age 4 -> 0.25
            ("e4", "alice", "login", "2026-01-02T00:00:00Z"),  # age 29 -> 0.5 ** 14.5
            ("e5", "alice", "invite", "2026-01-01T23:59:59Z"),  # outside the window
        ]
    )
    config = ScoringConfig(weights={"invite": 8.0, "login": -2.0}, half_life_days=2.0)
    # 8 x (1 + 0.70710678118654757 + 0.25) = 15.656854249492380
    invite = 8.0 * (1.0 + 0.5**0.5 + 0.25)
    login = -2.0 * 0.5**14.5
    assert invite == pytest.approx(15.65685424949238, abs=1e-12)
    assert login == pytest.approx(-0.0000863167457, abs=1e-12)

    parts = contributions(events, config, RUN_DATE).collect()
    assert parts.select("event_type", "count", "weight").rows() == [
        ("invite", 3, 8.0),  # count stays the number of occurrences
        ("login", 1, -2.0),
    ]
    assert parts["contribution"].to_list() == pytest.approx([invite, login], abs=1e-9)

    scores = customer_scores(events, config, RUN_DATE).collect()
    assert scores["score"].item() == pytest.approx(invite + login, abs=1e-9)
    assert scores["tier"].item() == "very_disengaged"
    assert scores["event_count"].item() == 4


def test_decay_factors_are_python_pow_for_every_age_in_every_plan() -> None:
    """Each age's factor is 0.5 ** (age / half_life) as Python computes it, to the bit, and
    the same in a plain select, a conditional aggregation and the streaming engine; null
    outside the window. Polars' own pow differs from it in the last bit for some ages, and
    varied between plans: exact sums of occurrences then differed from run to run."""
    config = ScoringConfig(window_days=45, half_life_days=7.0, weights={"login": 1.0})
    expected = [0.5 ** (age / 7.0) for age in range(45)]
    ages = pl.LazyFrame({"age": list(range(-2, 48)) * 2_000, "group": list(range(100)) * 1_000})
    factor = decay_by_age(pl.col("age"), config)
    for engine in ("in-memory", "streaming"):
        plain = ages.select("age", factor.alias("factor")).unique().sort("age")
        in_group = (
            ages.group_by("group")
            .agg(pl.col("age"), pl.when(pl.col("age") >= 0).then(factor).alias("factor"))
            .explode("age", "factor")
            .unique(["age", "factor"])
            .sort("age")
        )
        for frame in pl.collect_all([plain, in_group], engine=engine):
            assert frame["age"].to_list() == list(range(-2, 48))  # one factor per age
            assert frame["factor"].to_list() == [None, None, *expected, None, None, None]


def test_decay_age_is_whole_utc_days(make_events: MakeEvents) -> None:
    events = make_events(
        [
            # one microsecond before midnight of the previous day: a whole day old
            ("e1", "alice", "invite", "2026-01-30T23:59:59.999999Z"),
            # 23:30 at -01:00 on Jan 30 is Jan 31 00:30 UTC: age 0, not 1
            ("e2", "bob", "invite", "2026-01-30T23:30:00-01:00"),
            # 00:30 at +01:00 on Jan 31 is Jan 30 23:30 UTC: age 1, not 0
            ("e3", "carol", "invite", "2026-01-31T00:30:00+01:00"),
        ]
    )
    config = ScoringConfig(weights={"invite": 10.0}, half_life_days=1.0)
    scores = customer_scores(events, config, RUN_DATE).collect()
    assert scores.select("customer_id", "score").rows() == [
        ("alice", 5.0),
        ("bob", 10.0),
        ("carol", 5.0),
    ]


def test_decay_off_is_the_exact_formula(make_events: MakeEvents) -> None:
    events = make_events(
        [
            ("e1", "alice", "invite", "2026-01-02T00:00:00Z"),
            ("e2", "alice", "invite", "2026-01-31T23:59:59Z"),
        ]
    )
    plain = ScoringConfig(weights={"invite": 10.0})
    assert customer_scores(events, plain, RUN_DATE).collect()["score"].item() == 20.0
    decayed = ScoringConfig(weights={"invite": 10.0}, half_life_days=29.0)
    # ages 29 and 0: 10 x (0.5 + 1)
    assert customer_scores(events, decayed, RUN_DATE).collect()["score"].item() == 15.0


def test_decay_can_change_the_tier(make_events: MakeEvents) -> None:
    events = make_events(repeated("alice", "invite", 5, "2026-01-21T00:00:00Z"))  # age 10
    plain = ScoringConfig(weights={"invite": 10.0})
    decayed = ScoringConfig(weights={"invite": 10.0}, half_life_days=10.0)
    assert customer_scores(events, plain, RUN_DATE).collect().select("score", "tier").rows() == [
        (50.0, "somewhat_engaged")
    ]
    assert customer_scores(events, decayed, RUN_DATE).collect().select("score", "tier").rows() == [
        (25.0, "very_disengaged")
    ]
