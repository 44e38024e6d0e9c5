"""Every output table is checked against its contract (in Polars) before it is published."""

import time
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from scoring.schema import OUTPUT_TABLES, SCORES, polars_schema
from tasks.publish.write import write_partition
from tasks.quality.contracts import contract_checks, staged_table_outcomes, table_outcomes

RUN_DATE = date(2026, 3, 31)


def test_the_scores_checks_come_from_the_contract() -> None:
    labels = [check.expectation for check in contract_checks("scores", polars_schema(SCORES))]
    for column in SCORES:
        assert f"expect_column_to_exist({column.name})" in labels
        assert f"expect_column_values_to_be_of_type({column.name})" in labels
        assert f"expect_column_values_to_not_be_null({column.name})" in labels
    assert "expect_column_values_to_be_in_set(tier)" in labels
    assert "expect_column_values_to_be_unique(customer_id)" in labels


def _scores(tier: str, customer: str = "b") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": ["a", customer],
            "score": [1.0, 2.0],
            "tier": ["very_disengaged", tier],
            "event_count": [1, 2],
            "last_event_at": [datetime(2026, 3, 30, tzinfo=UTC)] * 2,
        }
    )


def test_valid_staged_tables_pass(tmp_path: Path) -> None:
    write_partition(_scores("power_user"), "scores", SCORES, tmp_path, RUN_DATE)
    outcomes = staged_table_outcomes(tmp_path, RUN_DATE)
    assert {o.suite for o in outcomes} == {"scores"}  # only staged tables are checked
    assert all(o.success for o in outcomes)


def test_a_table_breaking_its_contract_is_caught_with_its_rows(tmp_path: Path) -> None:
    write_partition(_scores("superstar", customer="a"), "scores", SCORES, tmp_path, RUN_DATE)
    failed = {
        o.expectation: o.unexpected_count
        for o in staged_table_outcomes(tmp_path, RUN_DATE)
        if not o.success
    }
    assert failed == {
        "expect_column_values_to_be_in_set(tier)": 1,
        "expect_column_values_to_be_unique(customer_id)": 2,
    }


def test_a_missing_column_a_wrong_type_and_nulls_are_caught() -> None:
    frame = (
        _scores("power_user")
        .drop("event_count")
        .with_columns(pl.col("score").cast(pl.Int64), pl.Series("customer_id", ["a", None]))
    )
    failed = {o.expectation: o for o in table_outcomes("scores", frame.lazy()) if not o.success}
    assert set(failed) == {
        "expect_column_to_exist(event_count)",
        "expect_column_values_to_be_of_type(score)",
        "expect_column_values_to_not_be_null(customer_id)",
    }
    assert failed["expect_column_values_to_be_of_type(score)"].observed_value == "Int64"
    assert failed["expect_column_values_to_not_be_null(customer_id)"].unexpected_count == 1


def test_every_empty_table_passes_in_milliseconds() -> None:
    started = time.perf_counter()
    for table, columns in OUTPUT_TABLES.items():
        outcomes = table_outcomes(table, pl.LazyFrame(schema=polars_schema(columns)))
        assert all(o.success for o in outcomes), table
    assert time.perf_counter() - started < 2  # a GX suite per table took seconds
