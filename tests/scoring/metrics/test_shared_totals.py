"""The panel reuses the scoring pass's totals: the same tables as from all the events.

The scoring step keeps per customer and event type totals (scoring.aggregates.
event_type_totals) and the metric step reads only the events of panel_events besides them;
both must give exactly the panel computed from every event.
"""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from scoring.aggregates import event_type_totals
from scoring.config import HealthConfig, HealthWeights, MetricsConfig, ScoringConfig
from scoring.engagement import customer_scores
from scoring.events import typed_properties
from scoring.metrics.customer_panel import KEY
from scoring.metrics.panel import (
    MetricPanel,
    customer_metrics,
    metric_panel,
    segment_metrics,
    window_sessions,
)
from scoring.metrics.panel_inputs import (
    CUSTOMER_ID,
    HASHED_CUSTOMER_ID,
    customer_key,
    customer_totals,
    panel_columns,
    panel_events,
)
from scoring.metrics.web import valued_properties
from scoring.schema import UTC_TIMESTAMP
from tasks.score.metrics import ties_before_window

RUN_DATE = date(2026, 3, 25)
TYPES = ["login", "page_view", "session_start", "feature_used", "purchase", "signup",
         "subscription_cancelled", "app_install", "app_uninstalled", "nps_response",
         "csat_response", "effort_response", "email_open", "email_click", "impression",
         "social_engagement", "event_registration", "support_ticket",
         "support_ticket_escalated", "downgrade", "unknown_type"]  # fmt: skip


def world(seed: int, rows: int = 1500, customers: int = 30) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Events over the 75 days before the run date (times on a 15-minute grid, so ties on
    time happen), every property sometimes null, a plan event column; a customers table of
    some of the customers (and some without events)."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 10, tzinfo=UTC)

    def some(values: list[object], missing: float = 0.3) -> list[object]:
        return [None if rng.random() < missing else v for v in values]

    def ints(low: int, high: int) -> list[int]:
        return [int(v) for v in rng.integers(low, high, rows)]

    events = pl.DataFrame(
        {
            "event_id": [f"x{int(i)}" for i in rng.permutation(rows)],
            "customer_id": [f"c{v}" for v in ints(0, customers)],
            "event_type": rng.choice(TYPES, rows).tolist(),
            "occurred_at": [start + timedelta(minutes=15 * v) for v in ints(0, 75 * 96)],
            "value": some([float(v) for v in ints(-2, 13)]),
            "session_id": some([f"s{v}" for v in ints(0, 12)]),
            "page": some([f"/p{v}" for v in ints(0, 5)]),
            "duration_s": some([v / 4 for v in ints(0, 400)]),
            "scroll_pct": some([float(v) for v in ints(0, 101)]),
            "amount": some([v / 100 for v in ints(0, 100_000)]),
            "feature": some([f"f{v}" for v in ints(0, 6)]),
            "plan": some([["free", "trial", "pro"][v] for v in ints(0, 3)], 0.7),
        },
        schema_overrides={"occurred_at": UTC_TIMESTAMP},
    )
    # a customer seen only before the window, one whose first event is its signup, and two
    # whose latest app install and uninstall share an instant (before the window, then in it):
    # the later event id decides
    tie_before, tie_in = start + timedelta(days=3), start + timedelta(days=70)
    special = events.head(6).with_columns(
        pl.Series("event_id", ["x-l", "x-j", "x-t1", "x-t2", "x-t3", "x-t4"]),
        pl.Series("customer_id", ["lapsed", "joined", "tied", "tied", "tied2", "tied2"]),
        pl.Series(
            "event_type",
            ["login", "signup", "app_install", "app_uninstalled", "app_uninstalled", "app_install"],
        ),
        pl.Series(
            "occurred_at",
            [start, start + timedelta(days=60), *[tie_before] * 2, *[tie_in] * 2],
            dtype=UTC_TIMESTAMP,
        ),
    )
    events = pl.concat([events, special])
    listed = [f"c{v}" for v in rng.choice(customers + 5, customers // 2, replace=False)]
    table = pl.DataFrame(
        {
            "customer_id": listed,
            "persona": some([["dev", "admin"][v % 2] for v in range(len(listed))]),
            "signup_date": some([f"2026-0{1 + v % 3}-1{v % 10}" for v in range(len(listed))]),
        },
        schema={"customer_id": pl.String, "persona": pl.String, "signup_date": pl.String},
    )
    return typed_properties(events.lazy()), table.lazy()


def world_config(half_life_days: float | None, clv_lookback_days: int = 45) -> ScoringConfig:
    return ScoringConfig(
        window_days=14,
        half_life_days=half_life_days,
        weights={
            "login": 1,
            "page_view": 0.1,
            "feature_used": 2,
            "purchase": 5,
            "subscription_cancelled": -40,
            "app_uninstalled": -20,
            "support_ticket": -1,
            "email_click": 1.3,
            "event_registration": 3,
        },
        metrics=MetricsConfig(
            segments=("plan", "persona", "signup_cohort"),
            clv_lookback_days=clv_lookback_days,
            health=HealthConfig(
                segment="plan",
                segment_weights={"pro": HealthWeights(engagement=1, satisfaction=0)},
            ),
        ),
    )


def panel_tables(panel: MetricPanel, config: ScoringConfig) -> list[pl.DataFrame]:
    customers, pages, features = pl.collect_all([panel.customers, panel.pages, panel.feature_users])
    collected = MetricPanel(customers.lazy(), pages.lazy(), features.lazy(), panel.segments)
    outputs = pl.collect_all(
        [customer_metrics(collected.customers), segment_metrics(collected, config)]
    )
    return [customers, pages.sort(pl.all()), features.sort(pl.all()), *outputs]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("half_life_days", [None, 3])
@pytest.mark.parametrize("with_table", [True, False])
@pytest.mark.parametrize("hashed", [False, True])
def test_panel_from_the_totals_and_its_events_equals_the_panel_from_every_event(
    seed: int, half_life_days: float | None, with_table: bool, hashed: bool
) -> None:
    events, table = world(seed)
    if seed % 2:
        # an event store without web properties: the sessions' constants stand in for them
        events = events.with_columns(
            pl.lit(None).cast(events.collect_schema()[c]).alias(c)
            for c in ("page", "duration_s", "scroll_pct")
        )
    customers = table if with_table else None
    config = world_config(half_life_days, clv_lookback_days=[10, 45, 365][seed % 3])
    expected = panel_tables(metric_panel(events, config, RUN_DATE, customers), config)

    totals = customer_totals(event_type_totals(events, config, RUN_DATE), config, RUN_DATE)
    totals = totals.collect().lazy()
    ties = ties_before_window(totals, config, RUN_DATE)
    assert ties is not None and ties.collect()["customer_id"].to_list() == ["tied"]
    rows = panel_events(events, config, RUN_DATE, customers, ties).collect()
    assert rows.height < events.collect().height  # it does leave events out
    # as the metric step runs it: the sessions computed first, by the hashed customer key
    assert customer_key(totals).collect().item()
    key = HASHED_CUSTOMER_ID if hashed else CUSTOMER_ID
    valued = valued_properties(rows.lazy())
    assert ("page" in valued) == (seed % 2 == 0)
    sessions = window_sessions(rows.lazy(), config, RUN_DATE, key, valued).collect().lazy()
    actual = panel_tables(
        metric_panel(rows.lazy(), config, RUN_DATE, customers, totals, sessions, key), config
    )
    assert expected[0].height > 10 and expected[4].height > 100  # the world exercises the panel
    assert "lapsed" in expected[0]["customer_id"]
    status = dict(expected[0].select("customer_id", "app_status").iter_rows())
    assert (status["tied"], status["tied2"]) == ("deleted", "kept")
    if hashed:
        # pages and feature users are by the key: compared through the segment table
        assert actual[0][KEY].dtype == pl.UInt64
        expected, actual = (
            [expected[0].drop(KEY), *expected[3:]],
            [actual[0].drop(KEY), *actual[3:]],
        )
    for want, got in zip(expected, actual, strict=True):
        assert_frame_equal(got, want, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("half_life_days", [None, 3, 10])
def test_score_previous_is_the_score_of_the_previous_period(half_life_days: float | None) -> None:
    events, _ = world(seed=11, rows=4000)
    newcomer = events.head(1).with_columns(
        pl.lit("newcomer").alias("customer_id"),
        pl.lit(datetime(2026, 3, 20, tzinfo=UTC)).dt.cast_time_unit("us").alias("occurred_at"),
    )
    events = pl.concat([events, newcomer])
    config = world_config(half_life_days)
    previous = customer_scores(events, config, RUN_DATE - timedelta(days=config.window_days))
    expected = previous.select("customer_id", pl.col("score").alias("score_previous"))
    rows = (
        metric_panel(events, config, RUN_DATE)
        .customers.select("customer_id", "score_previous")
        .join(expected, on="customer_id", how="left", suffix="_expected")
        .collect()
    )
    # exactly the previous run's score for customers seen by then, null for the others
    assert rows["score_previous"].is_not_null().sum() > 10
    assert rows["score_previous"].is_null().sum() > 0
    assert rows["score_previous"].equals(rows["score_previous_expected"], check_names=False)


def test_panel_events_keep_what_the_panel_reads_besides_the_totals() -> None:
    config = world_config(None, clv_lookback_days=60)
    at = ["2026-03-20T10:00:00Z", "2026-02-01T10:00:00Z", "2026-03-30T10:00:00Z"]
    frame = pl.LazyFrame(
        {
            "event_id": [f"e{i}" for i in range(7)],
            "customer_id": ["a"] * 7,
            "event_type": [
                "login",
                "login",
                "app_install",
                "purchase",
                "purchase",
                "purchase",
                "login",
            ],
            "occurred_at": [at[0], at[1], at[1], at[1], at[1], "2025-12-01T00:00:00Z", at[2]],
            "amount": [None, None, None, 10.0, None, 10.0, None],
            "region": [None, "us", None, None, None, None, "eu"],
        }
    ).with_columns(pl.col("occurred_at").str.to_datetime(time_zone="UTC", time_unit="us"))
    kept = panel_events(frame, config, date(2026, 3, 25)).collect()["event_id"].to_list()
    # the window's login; not: the history (its purchases and app events come with the
    # totals), the run date's future (e6)
    assert kept == ["e0"]
    # an app tie before the window adds the app events at its instant
    ties = pl.LazyFrame({"customer_id": ["a", "b"], "app_tie_at": [at[1], at[1]]}).with_columns(
        pl.col("app_tie_at").str.to_datetime(time_zone="UTC", time_unit="us")
    )
    tied = panel_events(frame, config, date(2026, 3, 25), app_ties=ties).collect()
    assert sorted(tied["event_id"].to_list()) == ["e0", "e2"]
    with_region = world_config(None, clv_lookback_days=60).model_copy(
        update={"metrics": MetricsConfig(segments=("region",), clv_lookback_days=60)}
    )
    # an attribute taken from an event column keeps the events that carry one (e1 before the
    # window)
    carried = panel_events(frame, with_region, date(2026, 3, 31)).collect()
    assert carried["event_id"].to_list() == ["e0", "e1", "e6"]


def test_panel_columns_leave_out_attributes_the_customers_table_has() -> None:
    config = world_config(None)
    available = ["event_id", "customer_id", "event_type", "occurred_at", "value", "plan", "x"]
    assert panel_columns(config, available) == available[:-1]
    assert panel_columns(config, available, ["customer_id", "plan"]) == available[:-2]


def test_each_customer_row_keeps_its_own_totals_whatever_their_order() -> None:
    events, table = world(3)
    config = world_config(None)
    totals = customer_totals(event_type_totals(events, config, RUN_DATE), config, RUN_DATE)
    in_order = metric_panel(events, config, RUN_DATE, table, totals=totals).customers.collect()
    reversed_totals = totals.collect().reverse()
    reversed_rows = metric_panel(
        events, config, RUN_DATE, table, totals=reversed_totals.lazy()
    ).customers.collect()
    # the rows follow the totals' order, each with its own window counts
    assert reversed_rows["customer_id"].to_list() == reversed_totals["customer_id"].to_list()
    assert in_order["page_views"].sum() > 0 and in_order["active_days"].sum() > 0
    assert_frame_equal(reversed_rows.reverse(), in_order, check_exact=True)


def test_the_customer_key_is_the_hash_only_where_it_tells_the_customers_apart() -> None:
    ids = pl.LazyFrame({"customer_id": ["a", "b", "c"]})
    assert customer_key(ids).collect().item()
    # a "hash" that collides (b and c have the same length) is not used: customer_id is
    too_short = pl.LazyFrame({"customer_id": ["a", "bb", "cc"]})
    assert not customer_key(too_short, pl.col("customer_id").str.len_bytes()).collect().item()


SOME_TYPES = ["signup", "app_install", "impression", "subscription_cancelled", "purchase"]
ONLY_UNWEIGHTED = [t for t in TYPES if t not in ("login", "feature_used", "unknown_type")]


@pytest.mark.parametrize("half_life_days", [None, 3])
@pytest.mark.parametrize("missing", [SOME_TYPES, ONLY_UNWEIGHTED])
def test_totals_of_types_that_never_occurred_are_the_same_constants(
    half_life_days: float | None, missing: list[str]
) -> None:
    events, _ = world(seed=5, rows=3000)
    events = events.filter(~pl.col("event_type").is_in(missing))
    config = world_config(half_life_days)
    totals = event_type_totals(events, config, RUN_DATE).collect()
    present = totals["event_type"].unique().to_list()
    assert not set(missing) & set(present)
    folded = customer_totals(totals.lazy(), config, RUN_DATE, present).collect()
    summed = customer_totals(totals.lazy(), config, RUN_DATE).collect()
    assert folded.height > 10 and folded["app_installs"].sum() == 0
    assert folded["signup_date"].null_count() == folded.height
    assert (folded["app_uninstalls"].sum() > 0) == ("app_uninstalled" in present)
    assert_frame_equal(folded, summed, check_exact=True)
