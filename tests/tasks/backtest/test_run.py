"""The backtest on the planted demo data and on awkward inputs (no Prefect: pure functions)."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import polars as pl
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from demo.data import generate_demo_events
from flows.settings import bundled_config_path, load_config
from scoring.backtest.observations import observation_dates
from scoring.backtest.outcome import BacktestTables, headline_auc
from scoring.config import ScoringConfig
from scoring.schema import UTC_TIMESTAMP
from tasks.backtest.compute import compute_backtest
from tasks.backtest.inputs import BacktestInputError
from tasks.backtest.report import render_report
from tasks.backtest.suggested import suggested_config_text
from tests.reference import Event, reference_scores

END = date(2026, 3, 31)
DATES = observation_dates(date(2026, 1, 1), date(2026, 3, 31), 7)


@pytest.fixture(scope="module")
def demo() -> tuple[pl.DataFrame, pl.DataFrame]:
    return generate_demo_events(END, customers=600, days=120)


@pytest.fixture(scope="module")
def tables(demo: tuple[pl.DataFrame, pl.DataFrame]) -> BacktestTables:
    events, customers = demo
    return compute_backtest(events, load_config(bundled_config_path()), DATES, 30, customers)


def test_demo_backtest_is_meaningful_and_beats_uniform_out_of_time(tables: BacktestTables) -> None:
    auc = headline_auc(tables, "test")
    assert auc["current"] is not None and auc["current"] > 0.65
    assert auc["suggested"] is not None and auc["suggested"] > auc["uniform"] + 0.1  # type: ignore[operator]
    assert auc["suggested"] > 0.7


def test_demo_suggested_weights_recover_the_planted_event_types(tables: BacktestTables) -> None:
    weights = tables.calibration.weights
    for important in ("integration_added", "invite_sent", "feature_used"):
        assert weights[important] > 0, important
    assert weights["support_ticket_escalated"] < 0
    assert weights["subscription_cancelled"] < 0
    assert tables.calibration.fitted


def test_dates_without_a_full_horizon_are_dropped(tables: BacktestTables) -> None:
    # last demo event on Mar 31: a date's horizon D+1..D+30 must end by then
    assert tables.dropped_dates == [d for d in DATES if d > date(2026, 3, 1)]
    split = tables.split
    assert split.train[-1] + timedelta(days=30) <= split.test[0]
    # the test period is clean; three training dates only allow an overlapping inner split
    assert not tables.notes
    assert "overlaps the inner validation period" in tables.warnings[-1]


def test_reported_auc_matches_sklearn_on_the_observations(tables: BacktestTables) -> None:
    observations = tables.observations
    for period in ("test", "train", "all"):
        for name, reported in headline_auc(tables, period).items():
            rows = observations.filter(pl.col("weights") == name)
            if period != "all":
                rows = rows.filter(pl.col("period") == period)
            expected = roc_auc_score(~rows["churned"].to_numpy(), rows["score"].to_numpy())
            assert reported == pytest.approx(expected, abs=1e-12), (period, name)


def test_observations_match_the_independent_oracle(
    demo: tuple[pl.DataFrame, pl.DataFrame], tables: BacktestTables
) -> None:
    """Scores (plain-Python oracle) and churn labels (computed here by hand) of one date."""
    events, _ = demo
    config = load_config(bundled_config_path())
    day = tables.split.test[0]
    plain = [
        Event(r["event_id"], r["customer_id"], r["event_type"], r["occurred_at"])
        for r in events.iter_rows(named=True)
    ]
    scores, _ = reference_scores(plain, dict(config.weights), day, window_days=30)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    active = {e.customer_id for e in plain if end - timedelta(days=30) <= e.occurred_at < end}
    horizon = [e for e in plain if end <= e.occurred_at < end + timedelta(days=30)]
    seen = {e.customer_id for e in horizon}
    cancelled = {e.customer_id for e in horizon if e.event_type == "subscription_cancelled"}
    expected = {c: (c not in seen or c in cancelled, scores[c]["score"]) for c in active}
    rows = tables.observations.filter(
        (pl.col("weights") == "current") & (pl.col("observation_date") == day)
    )
    got = {r["customer_id"]: (r["churned"], r["score"]) for r in rows.iter_rows(named=True)}
    assert got.keys() == expected.keys()
    for customer, (churned, score) in expected.items():
        assert got[customer][0] == churned
        assert got[customer][1] == pytest.approx(score, abs=1e-9)


def test_segment_figures_equal_the_figures_of_the_segment(
    demo: tuple[pl.DataFrame, pl.DataFrame], tables: BacktestTables
) -> None:
    _, customers = demo
    assert tables.segment_auc is not None and tables.segment_tiers is not None
    assert set(tables.segment_auc["segment"].unique()) == {
        "plan",
        "persona",
        "region",
        "account_owner",
    }
    assert tables.skipped_segment_columns == ["signup_date", "name", "arr"]  # > 20 values
    pro = customers.filter(pl.col("plan") == "pro")["customer_id"]
    rows = tables.observations.filter(
        (pl.col("weights") == "suggested")
        & (pl.col("period") == "test")
        & pl.col("customer_id").is_in(pro.implode())
    )
    reported = tables.segment_auc.filter(
        (pl.col("weights") == "suggested")
        & (pl.col("period") == "test")
        & (pl.col("segment") == "plan")
        & (pl.col("segment_value") == "pro")
    )
    assert reported["customers"].item() == rows.height
    expected = roc_auc_score(~rows["churned"].to_numpy(), rows["score"].to_numpy())
    assert reported["auc"].item() == pytest.approx(expected)


def test_suggested_config_is_valid_and_states_both_aucs(tables: BacktestTables) -> None:
    text = suggested_config_text(tables, "my-config.yaml")
    config = ScoringConfig.model_validate(yaml.safe_load(text))
    assert config.weights == tables.calibration.weights
    assert config.backtest_settings.churn_event_types == ("subscription_cancelled",)
    auc = headline_auc(tables, "test")
    assert f"#   current configuration: {auc['current']:.4f}" in text
    assert f"#   suggested:             {auc['suggested']:.4f}" in text
    assert "my-config.yaml" in text.splitlines()[0]


def test_suggested_config_leaves_a_configured_webhook_url_out(tables: BacktestTables) -> None:
    delivery = {"webhook_url": "https://hooks.example.com/T0/B0/s3cr3t"}
    with_webhook = tables.suggested_config.model_validate(
        {**tables.suggested_config.model_dump(), "followups": {"delivery": delivery}}
    )
    text = suggested_config_text(replace(tables, suggested_config=with_webhook), "my.yaml")
    assert "s3cr3t" not in text and "*****" not in text
    assert "# followups.delivery.webhook_url (a secret) is left out: copy it from my.yaml" in text
    config = ScoringConfig.model_validate(yaml.safe_load(text))
    assert config.followups is not None and config.followups.delivery.webhook_url is None


def test_the_fit_never_sees_the_test_period(
    demo: tuple[pl.DataFrame, pl.DataFrame], tables: BacktestTables
) -> None:
    """Scrambling every event after the first test date leaves the suggested weights as they
    were: only training dates and their horizons (which end by then) feed the fit."""
    events, customers = demo
    cutoff = datetime.combine(tables.split.test[0] + timedelta(days=1), time(), tzinfo=UTC)
    later = pl.col("occurred_at") >= cutoff
    scrambled = events.with_columns(
        pl.when(later)
        .then(pl.col("event_type").shuffle(seed=1))
        .otherwise(pl.col("event_type"))
        .alias("event_type"),
        pl.when(later)
        .then(pl.col("customer_id").shuffle(seed=2))
        .otherwise(pl.col("customer_id"))
        .alias("customer_id"),
    )
    again = compute_backtest(scrambled, load_config(bundled_config_path()), DATES, 30, customers)
    assert again.split == tables.split
    assert again.calibration.weights == tables.calibration.weights
    assert headline_auc(again, "test") != headline_auc(tables, "test")


# --- awkward inputs -----------------------------------------------------------------------


def _events(rows: list[tuple[str, str, date]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "event_type": [r[1] for r in rows],
            "occurred_at": [datetime.combine(r[2], time(12), tzinfo=UTC) for r in rows],
        },
        schema_overrides={"occurred_at": UTC_TIMESTAMP},
    )


def _daily(customer: str, event_type: str, first: date, last: date) -> list[tuple[str, str, date]]:
    days = (last - first).days + 1
    return [(customer, event_type, first + timedelta(days=i)) for i in range(days)]


def test_a_range_too_short_to_split_is_an_error_naming_the_fix() -> None:
    events = _events(_daily("a", "login", date(2026, 1, 1), date(2026, 3, 1)))
    config = ScoringConfig(weights={"login": 1})
    with pytest.raises(BacktestInputError, match="widen --from/--to"):
        compute_backtest(events, config, [date(2026, 1, 10)], 30)
    with pytest.raises(BacktestInputError, match="no valid events"):
        compute_backtest(events.clear(), config, [date(2026, 1, 10)], 30)


def test_dates_without_active_customers_and_overlapping_split_are_reported() -> None:
    rows = []
    for i in range(12):
        # half the customers stop on Jan 20 (churn); everyone quiet Jan 21-31 except survivors
        last = date(2026, 1, 20) if i % 2 else date(2026, 3, 31)
        rows += _daily(f"c{i}", "login", date(2026, 1, 5), last)
        rows += [(f"c{i}", "invite_sent", date(2026, 1, 6))] * (i % 2 == 0)
        rows += [(f"c{i}", "heartbeat", date(2026, 1, 7))]
    events = _events(rows)
    config = ScoringConfig(window_days=7, weights={"login": 1, "invite_sent": 5})
    dates = [date(2026, 1, 1), date(2026, 1, 8), date(2026, 1, 15)]
    tables = compute_backtest(events, config, dates, 14)
    assert tables.empty_dates == [date(2026, 1, 1)]  # nothing before Jan 5
    assert tables.dropped_dates == []
    # Jan 8 + 14 > Jan 15: no purged split exists, the fallback fits on earlier dates only
    assert tables.split.train == (date(2026, 1, 8),)
    assert tables.split.test == (date(2026, 1, 15),)
    assert "overlaps the test period by 7 day(s)" in tables.notes[0]
    statuses = {s.event_type: s.status for s in tables.calibration.suggestions}
    assert statuses["heartbeat"] == "skipped"  # the same count for everyone


def test_many_types_no_weights_and_no_test_churners_still_report() -> None:
    """60 event types, an empty weight map, nobody churning after the training dates: the
    figures that are undefined are null, the report and the suggested config still render."""
    rows = []
    for i in range(40):
        last = date(2026, 1, 25) if i < 8 else date(2026, 4, 30)  # 8 churn early, none later
        for day in range(0, (last - date(2026, 1, 1)).days + 1, 2):
            rows.append((f"c{i}", f"type_{(i * 7 + day) % 60}", date(2026, 1, 1) + timedelta(day)))
        rows.append((f"c{i}", "constant", date(2026, 1, 3)))
    events = _events(rows)
    config = ScoringConfig(window_days=14, weights={})
    dates = observation_dates(date(2026, 1, 14), date(2026, 3, 25), 7)
    tables = compute_backtest(events, config, dates, 14)
    auc = headline_auc(tables, "test")
    assert auc == {"current": None, "suggested": None, "uniform": None}  # no test churners
    assert tables.observations.filter(pl.col("weights") == "current")[
        "score"
    ].unique().to_list() == [0.0]
    text = suggested_config_text(tables, "empty.yaml")
    assert "current configuration: n/a" in text
    ScoringConfig.model_validate(yaml.safe_load(text))
    report = render_report(tables, text)
    assert report.count("data:image/png;base64,") == 6
