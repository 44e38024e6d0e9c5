"""The seeded demo dataset: deterministic, inside its window, every tier and persona present,
bad rows where promised, and the planted churn truth visible in the events."""

import datetime
import pathlib

import polars as pl
import pytest
import yaml

from demo.data import (
    EVENT_TYPES,
    FEATURES,
    PERSONAS,
    generate_demo_events,
    with_bad_rows,
    write_demo_dataset,
)
from flows.settings import bundled_config_path
from scoring.config import ScoringConfig
from scoring.engagement import customer_scores, tier_distribution
from scoring.events import timestamp_from_text
from scoring.schema import OPTIONAL_EVENT_COLUMNS, REQUIRED_EVENT_COLUMNS, TIERS

END_DATE = datetime.date(2026, 3, 31)
WINDOW_END = datetime.datetime(2026, 4, 1, tzinfo=datetime.UTC)
BUNDLED_CONFIG = bundled_config_path()


@pytest.fixture(scope="module")
def demo() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The default dataset: 2,000 customers x 90 days, seed 7."""
    return generate_demo_events(END_DATE)


@pytest.fixture(scope="module")
def bundled_config() -> ScoringConfig:
    return ScoringConfig.model_validate(yaml.safe_load(BUNDLED_CONFIG.read_text()))


def test_same_seed_gives_equal_frames_and_another_seed_differs() -> None:
    events, customers = generate_demo_events(END_DATE, customers=150, seed=11)
    again_events, again_customers = generate_demo_events(END_DATE, customers=150, seed=11)
    other_events, _ = generate_demo_events(END_DATE, customers=150, seed=12)

    assert events.equals(again_events)
    assert customers.equals(again_customers)
    assert not events.equals(other_events)


def test_events_follow_the_contract(demo: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    events, customers = demo
    for column in (*REQUIRED_EVENT_COLUMNS, *OPTIONAL_EVENT_COLUMNS):
        assert events.schema[column.name] == column.dtype
    assert events.schema["plan"] == pl.String
    assert (
        events.select(c.name for c in REQUIRED_EVENT_COLUMNS).null_count().sum_horizontal()[0] == 0
    )
    assert customers.columns == [
        "customer_id",
        "plan",
        "persona",
        "region",
        "account_owner",
        "signup_date",
        "name",
        "arr",
    ]
    assert customers.schema["signup_date"] == pl.Date
    # routing and value for the call list: free and trial customers pay nothing
    assert customers["name"].null_count() == 0 and customers["arr"].min() == 0.0
    paying = customers.filter(~pl.col("plan").is_in(["free", "trial"]))
    assert (paying["arr"] > 0).all()
    assert 150_000 <= events.height <= 300_000


def test_every_event_is_in_the_90_days_ending_on_end_date(
    demo: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    events, _ = demo
    window_start = WINDOW_END - datetime.timedelta(days=90)

    inside = pl.col("occurred_at").is_between(window_start, WINDOW_END, closed="left")
    assert events.filter(~inside).is_empty()
    # and the whole span is used: first and last day both have events
    assert events["occurred_at"].dt.date().n_unique() == 90


def test_event_ids_are_unique(demo: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    events, _ = demo
    assert events["event_id"].is_unique().all()
    assert events["event_id"].str.contains(r"^ev-\d{7}$").all()


def test_every_persona_and_event_type_is_present(demo: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    events, customers = demo
    shares = customers["persona"].value_counts(normalize=True)
    assert set(shares["persona"]) == set(PERSONAS)
    assert (shares["proportion"] >= 0.05).all()
    assert set(events["event_type"]) == set(EVENT_TYPES)
    assert customers["customer_id"].is_unique().all()
    assert set(events["customer_id"]) <= set(customers["customer_id"])


def test_new_trials_signed_up_in_the_last_30_days(
    demo: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    events, customers = demo
    trials = customers.filter(pl.col("persona") == "new_trial")
    assert (trials["plan"] == "trial").all()
    assert (trials["signup_date"] > END_DATE - datetime.timedelta(days=30)).all()
    signups = events.filter(pl.col("event_type") == "signup")
    assert signups["customer_id"].is_unique().all()
    assert set(signups["customer_id"]) == set(trials["customer_id"])


def test_event_properties_are_in_range(demo: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    events, _ = demo
    answers = {"nps_response": (0, 10), "csat_response": (1, 5), "effort_response": (1, 7)}
    for event_type, (low, high) in answers.items():
        value = events.filter(pl.col("event_type") == event_type)["value"]
        assert value.null_count() == 0
        assert value.is_between(low, high).all()
        assert (value == value.round()).all()
    assert events.filter(~pl.col("event_type").is_in(list(answers)))["value"].null_count() == (
        events.filter(~pl.col("event_type").is_in(list(answers))).height
    )
    page_views = events.filter(pl.col("event_type") == "page_view")
    assert (
        page_views.select("session_id", "page", "duration_s", "scroll_pct")
        .null_count()
        .sum_horizontal()[0]
        == 0
    )
    assert page_views["scroll_pct"].is_between(0, 100).all()
    assert events.filter(pl.col("event_type") == "purchase")["amount"].is_between(20, 500).all()
    features = events.filter(pl.col("event_type") == "feature_used")["feature"]
    assert set(features) == set(FEATURES)


def test_every_default_tier_holds_at_least_5_percent_with_the_bundled_config(
    demo: tuple[pl.DataFrame, pl.DataFrame], bundled_config: ScoringConfig
) -> None:
    events, customers = demo
    scores = customer_scores(events.lazy(), bundled_config, END_DATE)
    tiers = tier_distribution(scores).collect()

    assert tiers["tier"].to_list() == list(TIERS)
    assert tiers["customers"].sum() == customers.height
    assert (tiers["customers"] >= 0.05 * customers.height).all(), tiers


def test_bundled_config_weights_only_known_event_types(bundled_config: ScoringConfig) -> None:
    assert set(bundled_config.weights) <= set(EVENT_TYPES)
    unweighted = {"email_open", "impression", "signup"} | {
        "nps_response",
        "csat_response",
        "effort_response",
    }
    assert not unweighted & set(bundled_config.weights)
    assert bundled_config.window_days == 30
    assert bundled_config.half_life_days is None
    assert bundled_config.tiers is None


def test_planted_truth_gone_customers_had_fewer_invites_and_integrations(
    demo: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    """Customers with a long history and no activity in the last 30 days invited and
    integrated less (per active day) before then than customers still active, escalated more,
    while their login rate was about the same."""
    events, _ = demo
    cutoff = WINDOW_END - datetime.timedelta(days=30)
    history_start = WINDOW_END - datetime.timedelta(days=90 - 14)
    per_customer = events.group_by("customer_id").agg(
        pl.col("occurred_at").min().alias("first_at"),
        (pl.col("occurred_at").max() < cutoff).alias("gone"),
    )
    earlier = (
        events.filter(pl.col("occurred_at") < cutoff)
        .group_by("customer_id")
        .agg(
            pl.col("occurred_at").dt.date().n_unique().alias("active_days"),
            pl.col("event_type").is_in(["invite_sent", "integration_added"]).sum().alias("deep"),
            (pl.col("event_type") == "support_ticket_escalated").sum().alias("escalated"),
            (pl.col("event_type") == "login").sum().alias("logins"),
        )
    )
    rates = (
        per_customer.filter(pl.col("first_at") < history_start)
        .join(earlier, on="customer_id")
        .group_by("gone")
        .agg(
            pl.len().alias("customers"),
            pl.col("deep").mean().alias("deep"),
            *[
                (pl.col(name) / pl.col("active_days")).mean().alias(f"{name}_per_day")
                for name in ("deep", "escalated", "logins")
            ],
        )
        .sort("gone")
    )
    active, gone = rates.row(0, named=True), rates.row(1, named=True)

    assert gone["customers"] >= 50
    assert gone["deep"] < 0.5 * active["deep"]
    assert gone["deep_per_day"] < 0.6 * active["deep_per_day"]
    assert gone["escalated_per_day"] > 1.5 * active["escalated_per_day"]
    assert 0.75 < gone["logins_per_day"] / active["logins_per_day"] < 1.25


def test_with_bad_rows_is_all_text_with_the_promised_bad_rows() -> None:
    events, _ = generate_demo_events(END_DATE, customers=100, days=30, seed=3)
    raw = with_bad_rows(events, seed=3)

    assert raw.equals(with_bad_rows(events, seed=3))
    assert all(dtype == pl.String for dtype in raw.schema.values())
    assert 10 <= raw.height - events.height <= 20
    assert raw["customer_id"].null_count() >= 1
    assert (raw["customer_id"].str.strip_chars() == "").sum() >= 1
    assert raw["event_type"].null_count() >= 1
    assert raw["event_id"].null_count() >= 1
    occurred_at = raw["occurred_at"]
    assert "not-a-date" in occurred_at.to_list()
    assert occurred_at.str.contains(r"^\d{4}-02-30T").any()
    assert occurred_at.null_count() >= 1
    duplicated = raw.filter(pl.col("event_id").is_not_null() & pl.col("event_id").is_duplicated())
    assert duplicated.height >= 6
    assert duplicated.unique().height == duplicated["event_id"].n_unique()  # exact copies


def test_with_bad_rows_keeps_every_clean_event_readable() -> None:
    events, _ = generate_demo_events(END_DATE, customers=100, days=30, seed=3)
    raw = with_bad_rows(events, seed=3)
    clean = (
        raw.filter(pl.col("event_id").str.contains(r"^ev-\d+$"))
        .unique("event_id", keep="first")
        .with_columns(timestamp_from_text(pl.col("occurred_at")))
    )

    assert clean.height == events.height
    assert clean.sort("event_id")["occurred_at"].equals(events.sort("event_id")["occurred_at"])
    assert clean["occurred_at"].null_count() == 0
    assert (
        raw.filter(pl.col("event_id").str.contains(r"^ev-\d+$"))["occurred_at"]
        .str.ends_with("Z")
        .all()
    )


def test_write_demo_dataset_writes_both_files(tmp_path: pathlib.Path) -> None:
    directory = tmp_path / "demo" / "input"
    written = write_demo_dataset(directory, END_DATE, customers=60, days=30, seed=5)

    assert written["events"] == directory / "events.csv"
    assert written["customers"] == directory / "customers.csv"
    raw = pl.read_csv(written["events"], infer_schema=False)
    customers = pl.read_csv(written["customers"], try_parse_dates=True)
    assert raw.height == written["rows"]
    assert customers.height == 60
    assert customers.schema["signup_date"] == pl.Date
    assert "not-a-date" in raw["occurred_at"].to_list()
