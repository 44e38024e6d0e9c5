"""Each staged output table checked against its contract (scoring/schema) before publishing,
in Polars: one query per table, milliseconds on small tables where a Great Expectations suite
per table cost seconds. The raw events keep their GX suites (tasks/quality/expectations.py).

The checks, named as the expectations they stand for: every contract column exists and has its
dtype, non-nullable columns hold no null, columns with allowed values hold no other, and the
table's key (OUTPUT_KEYS) does not repeat.
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from scoring.schema import OUTPUT_KEYS, OUTPUT_TABLES
from tasks.publish.write import PART_FILE, partition_dir
from tasks.quality.data_docs import Outcome


@dataclass(frozen=True)
class Check:
    """One check of a contract: its label and meaning, and either the count of the rows that
    fail it (`failing`) or its result from the schema alone (`passed`)."""

    expectation: str
    reason: str
    failing: pl.Expr | None = None
    passed: bool = True
    observed: str | None = None


def contract_checks(table: str, schema: pl.Schema) -> list[Check]:
    """The checks of `table`'s contract against a frame of `schema` (a missing column is one
    failed check; its other checks are not run)."""
    checks = []
    for column in OUTPUT_TABLES[table]:
        name, present = column.name, column.name in schema
        checks.append(Check(f"expect_column_to_exist({name})", f"{name} is missing", None, present))
        if not present:
            continue
        actual = schema[name]
        checks.append(
            Check(
                f"expect_column_values_to_be_of_type({name})",
                f"{name} is not {column.dtype}",
                passed=actual == column.dtype,
                observed=str(actual),
            )
        )
        if not column.nullable:
            checks.append(
                Check(
                    f"expect_column_values_to_not_be_null({name})",
                    f"{name} has nulls",
                    pl.col(name).null_count(),
                )
            )
        if column.allowed:
            checks.append(
                Check(
                    f"expect_column_values_to_be_in_set({name})",
                    f"{name} has values outside {', '.join(column.allowed)}",
                    (~pl.col(name).is_in(column.allowed)).sum(),
                )
            )
    keys = [key for key in OUTPUT_KEYS.get(table, ()) if key in schema]
    if keys:
        label = (
            f"expect_column_values_to_be_unique({keys[0]})"
            if len(keys) == 1
            else f"expect_compound_columns_to_be_unique({', '.join(keys)})"
        )
        repeated = pl.struct(keys).is_duplicated().sum()
        checks.append(Check(label, f"({', '.join(keys)}) repeats", repeated))
    return checks


def table_outcomes(table: str, frame: pl.LazyFrame) -> list[Outcome]:
    """Every check of `table`'s contract on `frame`, the row counts in one query."""
    checks = contract_checks(table, frame.collect_schema())
    counted = [(i, c.failing) for i, c in enumerate(checks) if c.failing is not None]
    failing = frame.select(e.alias(str(i)) for i, e in counted).collect().row(0) if counted else ()
    rows = {i: int(count) for (i, _), count in zip(counted, failing, strict=True)}
    return [
        Outcome(
            suite=table,
            expectation=check.expectation,
            reason=check.reason,
            severity="critical",
            success=rows[index] == 0 if index in rows else check.passed,
            unexpected_count=rows.get(index),
            observed_value=check.observed,
        )
        for index, check in enumerate(checks)
    ]


def staged_table_outcomes(staging: str | Path, run_date: date) -> list[Outcome]:
    """The contract checks of every output table staged for `run_date`."""
    outcomes: list[Outcome] = []
    for table in OUTPUT_TABLES:
        path = partition_dir(staging, table, run_date) / PART_FILE
        if path.exists():
            outcomes += table_outcomes(table, pl.scan_parquet(path, glob=False))
    return outcomes
