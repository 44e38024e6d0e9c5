"""The spec's worked examples, exactly (SCORING_SPEC.md section 2)."""

import pytest

from tests.scoring.metrics.frames import customer_rows, ev, events, segment_table, segment_value


def test_csat_40_of_50_is_80() -> None:
    rows = [ev("a", "csat_response", "2026-03-10T10:00:00Z", value=5.0 if i < 40 else 2.0)
            for i in range(50)]  # fmt: skip
    assert customer_rows(events(*rows))["a"]["csat"] == 80.0


def test_nps_50_percent_promoters_minus_10_percent_detractors_is_40() -> None:
    answers = [10.0] * 3 + [9.0] * 2 + [7.0] * 2 + [8.0] * 2 + [6.0]
    rows = [ev("a", "nps_response", "2026-03-10T10:00:00Z", value=v) for v in answers]
    assert customer_rows(events(*rows))["a"]["nps"] == 40.0


def test_clv_20_x_12_x_3_is_720() -> None:
    # 12 purchases of 20 in the 365-day lookback; lifespan 3 years (defaults)
    rows = [ev("a", "purchase", f"2025-{month:02d}-15T10:00:00Z", amount=20.0)
            for month in range(4, 13)]  # fmt: skip
    rows += [ev("a", "purchase", f"2026-{month:02d}-15T10:00:00Z", amount=20.0)
             for month in range(1, 4)]  # fmt: skip
    row = customer_rows(events(*rows))["a"]
    assert (row["purchases"], row["average_order_value"], row["clv"]) == (12, 20.0, 720.0)


def test_churn_10_of_100_is_10() -> None:
    rows = [ev(f"c{i:03d}", "login", "2026-02-01T10:00:00Z") for i in range(100)]
    rows += [ev(f"c{i:03d}", "subscription_cancelled", "2026-03-20T10:00:00Z") for i in range(10)]
    rows += [ev("newcomer", "subscription_cancelled", "2026-03-20T10:00:00Z")]  # not at start
    table = segment_table(events(*rows))
    assert segment_value(table, "churn_rate") == 10.0
    churn = table.filter(metric="churn_rate", segment="all")
    assert churn["observations"].to_list() == [100]


def test_ctr_50_clicks_of_200_opens_is_25() -> None:
    rows = [ev("a", "email_open", "2026-03-10T10:00:00Z") for _ in range(200)]
    rows += [ev("a", "email_click", "2026-03-10T10:05:00Z") for _ in range(50)]
    assert customer_rows(events(*rows))["a"]["ctr"] == pytest.approx(25.0, abs=0)
