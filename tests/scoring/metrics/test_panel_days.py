"""The metric panel from daily aggregates (scoring.metrics.panel_days) is the panel from the
events: random worlds split into input files by day and in late batches (sessions over several
days and files, NPS answers, app ties, attribute columns), with and without decay."""

from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from scoring.aggregates import EVENT_DATE, customer_last_events, daily_event_counts
from scoring.config import ScoringConfig
from scoring.events import typed_properties
from scoring.metrics.customer_panel import KEY
from scoring.metrics.panel import (
    MetricPanel,
    customer_metrics,
    metric_panel,
    metric_panel_of_days,
    segment_metrics,
)
from scoring.metrics.panel_days import (
    app_latest,
    attribute_days,
    attribute_history,
    customer_days,
    feature_days,
    first_days,
    page_days,
    purchase_days,
    session_days,
    type_days,
)
from scoring.metrics.panel_inputs import CUSTOMER_ID, HASHED_CUSTOMER_ID
from scoring.metrics.panel_of_days import PanelDays, customer_totals_of_days, day_ranges
from scoring.schema import UTC_TIMESTAMP
from tests.scoring.metrics.test_shared_totals import RUN_DATE, world, world_config

TABLES = ("event_counts", "customers", "sessions", "pages", "features", "purchases", "types",
          "attributes")  # fmt: skip


def file_tables(events: pl.LazyFrame, config: ScoringConfig) -> dict[str, pl.DataFrame]:
    """The daily tables of one input file's events, as the store keeps them."""
    sessions = session_days(events, config).collect()
    built = {
        "event_counts": daily_event_counts(events),
        "customers": customer_days(events, sessions.lazy(), config),
        "sessions": sessions.lazy(),
        "pages": page_days(events, sessions.lazy(), config),
        "features": feature_days(events, config),
        "purchases": purchase_days(events, config),
        "types": type_days(events, config),
        "attributes": attribute_days(events, config),
    }
    return dict(zip(built, pl.collect_all(list(built.values())), strict=True))


def input_files(events: pl.DataFrame, seed: int) -> list[pl.LazyFrame]:
    """The events split as input files arrive: one file per UTC day, and a tenth of the rows
    in late batches of several days each."""
    rng = np.random.default_rng(seed)
    late = pl.Series(rng.random(events.height) < 0.1)
    batch = pl.Series(rng.integers(0, 3, events.height))
    day = pl.col("occurred_at").dt.date().alias("_day")
    on_time = events.filter(~late).with_columns(day).partition_by("_day", include_key=False)
    batches = events.with_columns(batch.alias("_batch")).filter(late).partition_by("_batch")
    return [f.lazy() for f in on_time] + [b.drop("_batch").lazy() for b in batches]


def days_of(files: list[pl.LazyFrame], config: ScoringConfig, run_date: date) -> PanelDays:
    """What the store gives a run: every file's tables, each read for the days it needs."""
    built = [file_tables(f, config) for f in files]
    tables = {name: pl.concat([b[name] for b in built]).lazy() for name in TABLES}
    ranges = day_ranges(config, run_date)

    def days(name: str, period: str) -> pl.LazyFrame:
        first, last = ranges[period]
        return tables[name].filter(pl.col(EVENT_DATE).is_between(first, last))

    known = pl.col(EVENT_DATE) <= run_date
    return PanelDays(
        event_counts=days("event_counts", "window"),
        previous_counts=days("event_counts", "previous"),
        customers=days("customers", "window"),
        sessions=days("sessions", "window"),
        pages=days("pages", "window"),
        features=days("features", "window"),
        purchases=days("purchases", "lookback"),
        first_days=first_days(tables["types"].filter(known)),
        app_latest=app_latest(tables["types"].filter(known), config.metric_settings),
        last_events=customer_last_events(tables["event_counts"], run_date),
        attributes=attribute_history(tables["attributes"].filter(known)),
        event_columns=tuple(files[0].collect_schema().names()),
    )


def outputs(panel: MetricPanel, config: ScoringConfig) -> list[pl.DataFrame]:
    customers, pages, features = pl.collect_all([panel.customers, panel.pages, panel.feature_users])
    collected = MetricPanel(customers.lazy(), pages.lazy(), features.lazy(), panel.segments)
    tables = pl.collect_all(
        [customer_metrics(collected.customers), segment_metrics(collected, config)]
    )
    return [*tables, pages.sort(pl.all()), features.sort(pl.all())]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("half_life_days", [None, 3])
def test_panel_from_daily_aggregates_equals_the_panel_from_events(
    seed: int, half_life_days: float | None
) -> None:
    events, table = world(seed, rows=12000, customers=40)
    customers = table if seed % 2 else None
    config = world_config(half_life_days, clv_lookback_days=[10, 45, 365][seed % 3])
    expected = outputs(metric_panel(events, config, RUN_DATE, customers), config)

    days = days_of(input_files(events.collect(), seed), config, RUN_DATE)
    totals = customer_totals_of_days(days, config, RUN_DATE).collect().lazy()
    key = HASHED_CUSTOMER_ID if seed % 2 else CUSTOMER_ID
    actual = outputs(metric_panel_of_days(days, config, RUN_DATE, customers, totals, key), config)

    assert expected[0].height > 20 and expected[1].height > 100  # the world exercises the panel
    assert expected[0]["sessions"].sum() > 40 and expected[2].height > 20
    for want, got in zip(expected[:2], actual[:2], strict=True):
        assert_frame_equal(got, want, check_exact=True)
    if key is CUSTOMER_ID:  # pages and feature users by text ids (else: by the hashed key)
        for want, got in zip(expected[2:], actual[2:], strict=True):
            assert_frame_equal(got, want, check_exact=True)
    assert KEY not in expected[0].columns


def test_the_latest_of_a_day_breaks_ties_on_time_by_the_larger_event_id() -> None:
    """A session's last view, a history type's latest event and an attribute's latest value:
    of events at one instant, the one with the larger event_id ("e2" > "e10" as text), wherever
    the rows stand in the file; a later interaction is not a view."""
    ten, eleven = (datetime(2026, 3, 30, h, tzinfo=UTC) for h in (10, 11))
    events = typed_properties(
        pl.DataFrame(
            {
                "event_id": ["e2", "e10", "e0", "e30", "e3"],
                "customer_id": ["c"] * 5,
                "event_type": ["page_view", "page_view", "login", "app_install", "app_install"],
                "occurred_at": [ten, ten, eleven, ten, ten],
                "session_id": ["s", "s", "s", None, None],
                "page": ["/b", "/a", None, None, None],
                "plan": ["pro", "free", None, None, None],
            },
            schema_overrides={"occurred_at": UTC_TIMESTAMP},
        ).lazy()
    )
    config = world_config(None)
    session = session_days(events, config).collect().row(0, named=True)
    assert (session["views"], session["interactions"]) == (2, 1)
    assert (session["last_view_at"], session["last_view_id"], session["exit_page"]) == (
        ten,
        "e2",
        "/b",
    )
    installs = type_days(events, config).filter(pl.col("event_type") == "app_install").collect()
    assert installs.select("last_event_at", "last_event_id").rows() == [(ten, "e30")]
    plan = attribute_days(events, config).collect()
    assert plan.select("last_event_id", "value").rows() == [("e2", "pro")]
    kept = plan.drop(EVENT_DATE).with_columns(
        pl.lit("e10").alias("last_event_id"), pl.lit("x").alias("value")
    )
    merged = attribute_history(pl.concat([plan.drop(EVENT_DATE), kept]).lazy()).collect()
    assert merged.select("last_event_id", "value").rows() == [("e2", "pro")]
