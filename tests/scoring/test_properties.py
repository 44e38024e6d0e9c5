"""Invariants of the scoring rules, checked with hypothesis on random small event sets."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from scoring.config import ScoringConfig, TierBoundaries
from scoring.engagement import contributions, customer_scores, tier_of
from scoring.events import ROW_ID, timestamp_from_text
from scoring.schema import TIERS, UTC_TIMESTAMP
from tests.scoring.as_run import first_occurrences, unweighted_event_types

# modest: the whole tests/scoring directory must stay well under 20 s; no example database
# so the run writes nothing outside the test tree
PROPERTY = settings(max_examples=50, deadline=None, database=None)

RUN_DATE = date(2026, 1, 31)
RUN_DATE_END = datetime.combine(RUN_DATE + timedelta(days=1), time(), tzinfo=UTC)
DAY_MICROSECONDS = 86_400_000_000
CUSTOMERS = ("alice", "bob", "carol", "dave")
WEIGHTED_TYPES = ("invite", "login", "uninstall")
EVENT_TYPES = (*WEIGHTED_TYPES, "page_view")  # page_view never has a weight
TOLERANCE = 1e-6

EVENT_SCHEMA = pl.Schema(
    {
        "event_id": pl.String,
        "customer_id": pl.String,
        "event_type": pl.String,
        "occurred_at": UTC_TIMESTAMP,
        ROW_ID: pl.Int64,
    }
)


@dataclass(frozen=True)
class Event:
    event_id: str
    customer_id: str
    event_type: str
    occurred_at: datetime


# time of day biased towards the edges of a day (and so of the window)
time_of_day = st.one_of(
    st.sampled_from([0, 1, DAY_MICROSECONDS - 1]),
    st.integers(0, DAY_MICROSECONDS - 1),
).map(lambda microseconds: timedelta(microseconds=microseconds))

# days before the run date: negative = after the run date (must be ignored); biased towards
# the run date's edges and the first / last day of short and default windows
days_back = st.one_of(st.sampled_from([-1, 0, 1, 6, 7, 29, 30]), st.integers(-3, 45))
window_lengths = st.one_of(st.sampled_from([1, 7, 30]), st.integers(1, 40))


@st.composite
def event_lists(draw: st.DrawFn, unique_ids: bool = True) -> list[Event]:
    count = draw(st.integers(0, 25))
    events = []
    for position in range(count):
        day = RUN_DATE - timedelta(days=draw(days_back))
        at = datetime.combine(day, time(), tzinfo=UTC) + draw(time_of_day)
        event_id = f"e{position}" if unique_ids else f"e{draw(st.integers(0, 8))}"
        customer = draw(st.sampled_from(CUSTOMERS))
        events.append(Event(event_id, customer, draw(st.sampled_from(EVENT_TYPES)), at))
    return events


weight_values = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
weight_sets = st.dictionaries(st.sampled_from(WEIGHTED_TYPES), weight_values, max_size=3)
half_lives = st.none() | st.floats(0.5, 60, allow_nan=False)


@st.composite
def configs(draw: st.DrawFn) -> ScoringConfig:
    return ScoringConfig(
        window_days=draw(window_lengths),
        half_life_days=draw(half_lives),
        weights=draw(weight_sets),
    )


def frame(events: list[Event], rows: list[int] | None = None) -> pl.LazyFrame:
    """Events as a typed LazyFrame; `_row` is the position unless `rows` says otherwise."""
    return pl.LazyFrame(
        {
            "event_id": [event.event_id for event in events],
            "customer_id": [event.customer_id for event in events],
            "event_type": [event.event_type for event in events],
            "occurred_at": [event.occurred_at for event in events],
            ROW_ID: rows if rows is not None else list(range(len(events))),
        },
        schema=EVENT_SCHEMA,
    )


def scores_of(events: pl.LazyFrame, config: ScoringConfig) -> dict[str, float]:
    result = customer_scores(events, config, RUN_DATE).collect()
    return dict(zip(result["customer_id"], result["score"], strict=True))


def reference_tier(score: float, bounds: TierBoundaries) -> str:
    """The spec's table, written out in plain Python."""
    if score < bounds.churn_risk_below:
        return "churn_risk"
    if score <= bounds.very_disengaged_max:
        return "very_disengaged"
    if score <= bounds.somewhat_engaged_max:
        return "somewhat_engaged"
    if score <= bounds.highly_engaged_max:
        return "highly_engaged"
    return "power_user"


def assert_close(actual: dict[str, float], expected: dict[str, float]) -> None:
    assert actual.keys() == expected.keys()
    for customer, value in expected.items():
        assert abs(actual[customer] - value) <= TOLERANCE * max(1.0, abs(value)), customer


# --- the rules against a plain-Python reference ------------------------------------------------


@PROPERTY
@given(events=event_lists(), config=configs())
def test_customer_scores_match_a_plain_python_reference(
    events: list[Event], config: ScoringConfig
) -> None:
    window_start = RUN_DATE_END - timedelta(days=config.window_days)
    expected_score: dict[str, float] = defaultdict(float)
    expected_count: dict[str, int] = defaultdict(int)
    expected_last: dict[str, datetime] = {}
    for event in events:
        if event.occurred_at >= RUN_DATE_END:
            continue
        customer = event.customer_id
        expected_last[customer] = max(
            expected_last.get(customer, event.occurred_at), event.occurred_at
        )
        if event.occurred_at < window_start:
            continue
        expected_count[customer] += 1
        age_days = (RUN_DATE - event.occurred_at.date()).days
        decay = 1.0 if config.half_life_days is None else 0.5 ** (age_days / config.half_life_days)
        expected_score[customer] += config.weights.get(event.event_type, 0.0) * decay

    result = customer_scores(frame(events), config, RUN_DATE).collect()

    assert result["customer_id"].to_list() == sorted(expected_last)
    assert_close(
        dict(zip(result["customer_id"], result["score"], strict=True)),
        {customer: expected_score[customer] for customer in expected_last},
    )
    for row in result.iter_rows(named=True):
        customer = row["customer_id"]
        assert row["event_count"] == expected_count[customer]
        assert row["last_event_at"] == expected_last[customer]
        assert row["tier"] == reference_tier(row["score"], config.tier_boundaries)


# --- linear in weights -------------------------------------------------------------------------


@PROPERTY
@given(
    events=event_lists(),
    weights=weight_sets,
    factor=st.floats(-10, 10, allow_nan=False),
    half_life=half_lives,
)
def test_scaling_all_weights_scales_every_score(
    events: list[Event], weights: dict[str, float], factor: float, half_life: float | None
) -> None:
    scaled = {event_type: weight * factor for event_type, weight in weights.items()}
    base = scores_of(frame(events), ScoringConfig(weights=weights, half_life_days=half_life))
    after = scores_of(frame(events), ScoringConfig(weights=scaled, half_life_days=half_life))
    assert_close(after, {customer: score * factor for customer, score in base.items()})


@PROPERTY
@given(events=event_lists(), first=weight_sets, second=weight_sets, half_life=half_lives)
def test_scores_of_summed_weights_are_summed_scores(
    events: list[Event],
    first: dict[str, float],
    second: dict[str, float],
    half_life: float | None,
) -> None:
    both = {
        event_type: first.get(event_type, 0.0) + second.get(event_type, 0.0)
        for event_type in first.keys() | second.keys()
    }
    score_first = scores_of(frame(events), ScoringConfig(weights=first, half_life_days=half_life))
    score_second = scores_of(frame(events), ScoringConfig(weights=second, half_life_days=half_life))
    score_both = scores_of(frame(events), ScoringConfig(weights=both, half_life_days=half_life))
    assert_close(
        score_both,
        {customer: score_first[customer] + score_second[customer] for customer in score_first},
    )


# --- tiers ---------------------------------------------------------------------------------------

boundary_sets = (
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=4, max_size=4, unique=True)
    .map(sorted)
    .map(
        lambda bounds: TierBoundaries(
            churn_risk_below=bounds[0],
            very_disengaged_max=bounds[1],
            somewhat_engaged_max=bounds[2],
            highly_engaged_max=bounds[3],
        )
    )
)


@PROPERTY
@given(
    scores=st.lists(st.floats(-2e6, 2e6, allow_nan=False), min_size=1, max_size=40),
    bounds=st.just(TierBoundaries()) | boundary_sets,
)
def test_tier_is_monotone_in_score_and_follows_the_table(
    scores: list[float], bounds: TierBoundaries
) -> None:
    result = (
        pl.LazyFrame({"score": scores}, schema={"score": pl.Float64})
        .with_columns(tier_of(pl.col("score"), bounds).alias("tier"))
        .sort("score")
        .collect()
    )
    ranks = [TIERS.index(tier) for tier in result["tier"]]
    assert ranks == sorted(ranks)
    for score, tier in result.iter_rows():
        assert tier == reference_tier(score, bounds)


# --- order and batching do not matter -----------------------------------------------------------


def all_outputs(events: pl.LazyFrame, config: ScoringConfig) -> list[pl.DataFrame]:
    deduplicated = first_occurrences(events)
    return [
        customer_scores(deduplicated, config, RUN_DATE).collect(),
        contributions(deduplicated, config, RUN_DATE).collect(),
        unweighted_event_types(deduplicated, config, RUN_DATE).collect(),
    ]


def assert_same_outputs(left: list[pl.DataFrame], right: list[pl.DataFrame]) -> None:
    for left_frame, right_frame in zip(left, right, strict=True):
        assert_frame_equal(left_frame, right_frame, check_exact=False, abs_tol=1e-9)


@PROPERTY
@given(events=event_lists(unique_ids=False), config=configs(), data=st.data())
def test_shuffling_event_rows_changes_nothing(
    events: list[Event], config: ScoringConfig, data: st.DataObject
) -> None:
    order = data.draw(st.permutations(range(len(events))))
    # each row keeps its `_row` (its place in the input), only the frame order changes
    shuffled = frame([events[i] for i in order], rows=list(order))
    assert_same_outputs(all_outputs(frame(events), config), all_outputs(shuffled, config))


@PROPERTY
@given(events=event_lists(unique_ids=False), config=configs(), data=st.data())
def test_splitting_events_into_two_loads_changes_nothing(
    events: list[Event], config: ScoringConfig, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(events)))
    whole = frame(events)
    first = frame(events[:cut], rows=list(range(cut)))
    second = frame(events[cut:], rows=list(range(cut, len(events))))
    loads = pl.concat([first, second])
    assert_same_outputs(all_outputs(whole, config), all_outputs(loads, config))


@PROPERTY
@given(events=event_lists(), config=configs(), later=event_lists())
def test_events_after_the_run_date_change_nothing(
    events: list[Event], config: ScoringConfig, later: list[Event]
) -> None:
    after = [
        Event(f"later-{event.event_id}", event.customer_id, event.event_type, at)
        for event in later
        if (at := event.occurred_at + timedelta(days=50)) >= RUN_DATE_END
    ]
    assert_same_outputs(
        all_outputs(frame(events), config), all_outputs(frame(events + after), config)
    )


# --- contributions and independence --------------------------------------------------------------


@PROPERTY
@given(events=event_lists(), config=configs())
def test_contributions_sum_to_the_score(events: list[Event], config: ScoringConfig) -> None:
    scores = customer_scores(frame(events), config, RUN_DATE).collect()
    parts = contributions(frame(events), config, RUN_DATE).collect()

    totals = dict(parts.group_by("customer_id").agg(pl.col("contribution").sum()).iter_rows())
    assert set(totals) <= set(scores["customer_id"])
    for customer, score in scores.select("customer_id", "score").iter_rows():
        assert abs(totals.get(customer, 0.0) - score) <= 1e-8

    assert set(parts["event_type"]) <= set(config.weights)
    assert parts.select("customer_id", "event_type").is_duplicated().sum() == 0
    for row in parts.iter_rows(named=True):
        assert row["count"] >= 1
        assert row["weight"] == config.weights[row["event_type"]]
        if config.half_life_days is None:
            assert abs(row["contribution"] - row["weight"] * row["count"]) <= 1e-9
        else:  # each occurrence counts between 0.5 ** (window_days / h) and 1
            assert abs(row["contribution"]) <= abs(row["weight"]) * row["count"] + 1e-9


@PROPERTY
@given(events=event_lists(unique_ids=False), config=configs())
def test_a_customers_score_depends_only_on_its_own_events(
    events: list[Event], config: ScoringConfig
) -> None:
    deduplicated = first_occurrences(frame(events))
    everyone = customer_scores(deduplicated, config, RUN_DATE).collect()
    for customer in everyone["customer_id"]:
        alone = customer_scores(
            deduplicated.filter(pl.col("customer_id") == customer), config, RUN_DATE
        ).collect()
        assert_frame_equal(alone, everyone.filter(pl.col("customer_id") == customer))


# --- timestamp parsing ---------------------------------------------------------------------------

offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timedelta(minutes=minutes))


@st.composite
def iso_texts(draw: st.DrawFn) -> tuple[str, datetime]:
    """ISO 8601 text in one of the accepted spellings, and the UTC instant it means."""
    local = draw(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)))
    precision = draw(st.sampled_from(["minutes", "seconds", "micro"]))
    if precision == "minutes":
        local = local.replace(second=0, microsecond=0)
        clock = local.strftime("%H:%M")
    elif precision == "seconds":
        local = local.replace(microsecond=0)
        clock = local.strftime("%H:%M:%S")
    else:
        clock = local.strftime("%H:%M:%S.%f")
    separator = draw(st.sampled_from(["T", " "]))
    zone = draw(st.sampled_from(["naive", "Z", "colon", "compact"]))
    offset = timedelta(0) if zone in ("naive", "Z") else draw(offsets)
    sign = "-" if offset < timedelta(0) else "+"
    hours, minutes = divmod(abs(offset) // timedelta(minutes=1), 60)
    suffix = {
        "naive": "",
        "Z": "Z",
        "colon": f"{sign}{hours:02d}:{minutes:02d}",
        "compact": f"{sign}{hours:02d}{minutes:02d}",
    }[zone]
    text = f"{local:%Y-%m-%d}{separator}{clock}{suffix}"
    return text, (local - offset).replace(tzinfo=UTC)


@PROPERTY
@given(cases=st.lists(iso_texts(), min_size=1, max_size=20))
def test_timestamp_from_text_reads_every_accepted_spelling(
    cases: list[tuple[str, datetime]],
) -> None:
    texts = [text for text, _ in cases]
    parsed = pl.DataFrame({"text": texts}).select(timestamp_from_text(pl.col("text")))
    assert parsed["occurred_at"].to_list() == [instant for _, instant in cases]


@PROPERTY
@given(day=st.dates(min_value=date(1971, 1, 1), max_value=date(2099, 12, 31)))
def test_timestamp_from_text_reads_a_bare_date_as_midnight_utc(day: date) -> None:
    parsed = pl.DataFrame({"text": [day.isoformat()]}).select(timestamp_from_text(pl.col("text")))
    assert parsed.item() == datetime.combine(day, time(), tzinfo=UTC)
