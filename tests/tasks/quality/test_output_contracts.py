"""Every output table is validated against the suite generated from its contract."""

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from scoring.schema import SCORES, TIERS
from tasks.publish.write import write_partition
from tasks.quality.expectations import (
    OUTPUT_SAMPLE_ROWS,
    expectation_label,
    output_rules,
    output_suspects,
)
from tasks.quality.validate import validate_output_tables

RUN_DATE = date(2026, 3, 31)


def test_the_scores_suite_comes_from_the_contract() -> None:
    labels = [expectation_label(rule.expectation) for rule in output_rules("scores")]
    for column in SCORES:
        assert f"expect_column_to_exist({column.name})" in labels
        assert f"expect_column_values_to_not_be_null({column.name})" in labels
    assert "expect_column_values_to_be_in_set(tier)" in labels
    assert "expect_column_values_to_be_unique(customer_id)" in labels
    tier_rule = next(
        r
        for r in output_rules("scores")
        if expectation_label(r.expectation) == "expect_column_values_to_be_in_set(tier)"
    )
    assert tier_rule.expectation.value_set == list(TIERS)


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
    outcomes = validate_output_tables(tmp_path, RUN_DATE)
    assert {o.suite for o in outcomes} == {"scores"}  # only staged tables are checked
    assert all(o.success for o in outcomes)


def test_a_table_breaking_its_contract_is_caught(tmp_path: Path) -> None:
    write_partition(_scores("superstar", customer="a"), "scores", SCORES, tmp_path, RUN_DATE)
    failed = {o.expectation for o in validate_output_tables(tmp_path, RUN_DATE) if not o.success}
    assert failed == {
        "expect_column_values_to_be_in_set(tier)",
        "expect_column_values_to_be_unique(customer_id)",
    }


def test_rows_past_the_sample_that_break_the_contract_are_caught(tmp_path: Path) -> None:
    """GX sees the rows a Polars pass flags and a sample (output_suspects): a bad tier, a
    null score and a repeated id far past the sample still fail the suite."""
    rows = 5 * OUTPUT_SAMPLE_ROWS
    healthy = pl.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(rows)],
            "score": [float(i) for i in range(rows)],
            "tier": ["power_user"] * rows,
            "event_count": [1] * rows,
            "last_event_at": [datetime(2026, 3, 30, tzinfo=UTC)] * rows,
        }
    )
    assert output_suspects(healthy, "scores").height == OUTPUT_SAMPLE_ROWS
    row = pl.int_range(pl.len())
    broken = healthy.with_columns(
        pl.when(row == rows - 3).then(pl.lit("superstar")).otherwise("tier").alias("tier"),
        pl.when(row == rows - 2).then(None).otherwise("score").alias("score"),
        pl.when(row == rows - 1)
        .then(pl.lit("c0000"))
        .otherwise("customer_id")
        .alias("customer_id"),
    )
    assert output_suspects(broken, "scores").height == OUTPUT_SAMPLE_ROWS + 3
    write_partition(broken, "scores", SCORES, tmp_path, RUN_DATE)
    failed = {o.expectation for o in validate_output_tables(tmp_path, RUN_DATE) if not o.success}
    assert failed == {
        "expect_column_values_to_be_in_set(tier)",
        "expect_column_values_to_not_be_null(score)",
        "expect_column_values_to_be_unique(customer_id)",
    }
