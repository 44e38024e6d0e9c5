"""Great Expectations suites generated from `scoring/schema.py` and the validation rules.

Nothing here is written twice: the raw-events suite comes from the event contract
(REQUIRED_EVENT_COLUMNS, OPTIONAL_EVENT_COLUMNS) and the configured rules, each output table's
suite from its contract in OUTPUT_TABLES / OUTPUT_KEYS.

Speed: GX (pandas) is slow on millions of text values, so the row-level rules are first
computed by Polars, in one pass (`row_flags`: which rows a rule flags, and the numbers parsed
from text). Only the flagged rows get their typed check columns (`check_columns`: lengths,
booleans, the typed timestamp, parsed numbers), which GX validates, reporting the failing
`_row` ids; the raw text never goes through pandas.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl

from scoring.config import ValidationRules
from scoring.events import ROW_ID
from scoring.schema import (
    OPTIONAL_EVENT_COLUMNS,
    OUTPUT_KEYS,
    OUTPUT_TABLES,
    REQUIRED_EVENT_COLUMNS,
    Column,
)

RAW_SUITE = "raw_events"
TABLE_SUITE = "raw_events_table"
EVENT_TYPES_SUITE = "raw_event_types"

ID_COLUMNS: tuple[str, ...] = tuple(c.name for c in REQUIRED_EVENT_COLUMNS if c.dtype == pl.String)
NUMERIC_PROPERTIES: tuple[str, ...] = tuple(
    c.name for c in OPTIONAL_EVENT_COLUMNS if c.dtype == pl.Float64
)
ANY_EVENT_TYPE = "*"
# C0 controls but tab, newline and carriage return (CSV fields may hold them), and DEL
_CONTROL_CHARACTERS = [chr(c) for c in (*range(9), 11, 12, *range(14, 32), 127)]


@dataclass(frozen=True)
class Rule:
    """One expectation and what it means for a row that fails it.

    `reason` is the quarantine text; rules with `quarantines=False` are table-level
    (aggregates): they pass, warn (severity "warning") or fail the run as a whole.
    """

    expectation: Any
    reason: str
    quarantines: bool = True


def expectation_label(expectation: Any) -> str:
    """`expect_column_values_to_not_be_null(customer_id__length)`: type and column(s)."""
    kwargs = expectation.configuration.kwargs
    target = kwargs.get("column") or ", ".join(kwargs.get("column_list") or [])
    return f"{expectation.expectation_type}({target})" if target else expectation.expectation_type


def failure_of(expectation: Any) -> pl.Expr:
    """The Polars predicate of the rows a column-map expectation reports as unexpected.

    Used only to pick the few suspect rows that GX then reports row by row; the counts of
    both are compared at every run, so this translation cannot drift silently.
    """
    kwargs = expectation.configuration.kwargs
    column = pl.col(kwargs["column"])
    kind = expectation.expectation_type
    if kind == "expect_column_values_to_not_be_null":
        return column.is_null()
    if kind == "expect_column_values_to_be_in_set":
        return (~column.is_in(list(kwargs["value_set"]))).fill_null(False)
    if kind == "expect_column_values_to_be_between":
        failed = pl.lit(False)
        if kwargs.get("min_value") is not None:
            failed = failed | (column < kwargs["min_value"])
        if kwargs.get("max_value") is not None:
            failed = failed | (column > kwargs["max_value"])
        return failed.fill_null(False)
    raise ValueError(f"no row-level translation for {kind}")


def _gxe() -> Any:
    import great_expectations.expectations as gxe

    return gxe


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of a day."""
    return datetime.combine(day, time(), tzinfo=UTC)


def _number(raw: pl.DataFrame, column: str) -> pl.Expr:
    if raw.schema[column].is_numeric():
        return pl.col(column).cast(pl.Float64)
    return pl.col(column).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)


def _range_columns(raw: pl.DataFrame, rules: ValidationRules) -> list[tuple[str, str, str]]:
    """(check column, property, event type) for every configured range on a present column."""
    return [
        (f"{prop}__{event_type}", prop, event_type)
        for event_type, ranges in rules.ranges.items()
        for prop in ranges
        if prop in raw.columns
    ]


def repeated_hashes(rows: pl.LazyFrame, column: str = "event_id") -> pl.LazyFrame:
    """The 64-bit hashes of `column` that occur more than once (nulls left out), as `hash`.

    Found by sorting the hashes and comparing neighbours: several times faster than a hash
    table over the text (`is_duplicated`) on millions of ids. Rows whose hash does not repeat
    have a value that does not repeat; the others are checked on the text itself.
    """
    hashed = pl.when(pl.col(column).is_not_null()).then(pl.col(column).hash())
    return (
        rows.select(hashed.sort().alias("hash"))
        .filter(pl.col("hash") == pl.col("hash").shift(1))
        .unique()
    )


def repeat_candidates(
    rows: pl.LazyFrame, hashes: pl.Series, column: str = "event_id"
) -> pl.LazyFrame:
    """The rows whose `column` hash is among `hashes`, by `position`, with their value."""
    return (
        rows.filter(pl.col(column).is_not_null() & pl.col(column).hash().is_in(hashes.implode()))
        .select("position", column)
        .sort("position")
    )


def later_occurrences(
    frame: pl.DataFrame, column: str = "event_id", skip: pl.Series | None = None
) -> pl.Series:
    """True for every row whose `column` value appeared in an earlier row (nulls: False).

    Rows marked in `skip` neither count nor are counted (quarantined rows do not shadow a
    later valid one). Same answer as `~is_first_distinct()` over the other rows, computed on
    64-bit hashes first (`repeated_hashes`) and on the text only for the rows whose hash repeats.
    """
    rows = frame.lazy().select(pl.int_range(pl.len(), dtype=pl.Int64).alias("position"), column)
    if skip is not None:
        rows = rows.filter(~pl.lit(skip))
    hashes = repeated_hashes(rows, column).collect().to_series()
    later = (
        repeat_candidates(rows, hashes, column)
        .collect()
        .filter(~pl.col(column).is_first_distinct())
    )
    return (
        pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True)
        .scatter(later["position"], True)
        .alias(column)
    )


def check_frame(raw: pl.DataFrame, rules: ValidationRules) -> pl.DataFrame:
    """The typed columns GX validates, one row per raw row."""
    return check_columns(raw, rules).collect()


def parsed(column: str) -> str:
    """The check column holding the number parsed from a numeric property."""
    return f"{column}__parsed"


def numbers_from_text(raw: pl.DataFrame) -> list[str]:
    """The numeric properties that arrive as text (parsed once, by `row_flags`)."""
    return [p for p in NUMERIC_PROPERTIES if raw.schema.get(p) == pl.String]


def row_flags(
    raw: pl.DataFrame,
    rules: ValidationRules,
    suite: list[Rule],
    event_types: pl.Series | None = None,
) -> pl.LazyFrame:
    """One row per raw row: `suspect`, true where a row-level rule of `suite` fails
    (`failure_of`), and the numbers parsed from text properties (`numbers_from_text`),
    which become the valid events' typed columns without parsing them again.

    With the distinct `event_types` of `raw`, control characters in `event_type` are looked
    for in those few values instead of in every row (same flags, a fifth of the pass).
    """
    unprintable = None
    if event_types is not None:
        unprintable = {"event_type": event_types.filter(_has_control_characters(event_types))}
    suspect = pl.any_horizontal(*[failure_of(r.expectation) for r in suite if r.quarantines])
    return check_columns(raw, rules, keep_parsed=True, unprintable=unprintable).select(
        suspect.alias("suspect"), *[parsed(p) for p in numbers_from_text(raw)]
    )


def _has_control_characters(text: pl.Series) -> pl.Series:
    return text.str.contains_any(_CONTROL_CHARACTERS)


def _printable(column: str, unprintable: dict[str, pl.Series] | None) -> pl.Expr:
    """True unless the text holds a control character (null text: True).

    `unprintable` maps a column to every distinct value of it that holds one (computed on
    the distinct values, for columns with few of them).
    """
    if unprintable is not None and column in unprintable:
        values = unprintable[column]
        flag = ~pl.col(column).is_in(values.implode()) if values.len() else pl.lit(True)
    else:
        flag = ~pl.col(column).str.contains_any(_CONTROL_CHARACTERS)
    return flag.fill_null(True).alias(f"{column}__printable")


def check_columns(
    raw: pl.DataFrame,
    rules: ValidationRules,
    keep_parsed: bool = False,
    unprintable: dict[str, pl.Series] | None = None,
) -> pl.LazyFrame:
    """The typed columns GX validates, one row per raw row, as one lazy Polars query."""
    numbers = [p for p in NUMERIC_PROPERTIES if p in raw.columns]
    parsed_numbers = [_number(raw, p).alias(parsed(p)) for p in numbers]
    in_range = [
        pl.when(
            (pl.lit(event_type == ANY_EVENT_TYPE) | (pl.col("event_type") == event_type))
            & pl.col(f"{prop}__parsed").is_finite()
        )
        .then(pl.col(f"{prop}__parsed"))
        .alias(name)
        for name, prop, event_type in _range_columns(raw, rules)
    ]
    return (
        raw.lazy()
        .with_columns(*parsed_numbers)
        .select(
            *[parsed(p) for p in numbers if keep_parsed],
            ROW_ID,
            "occurred_at",
            *[pl.col(c).str.len_chars().cast(pl.Int64).alias(f"{c}__length") for c in ID_COLUMNS],
            *[_printable(c, unprintable) for c in ID_COLUMNS],
            *[
                # blank text is null already (CSV); white space alone is not a number
                (pl.col(p).is_null() | pl.col(f"{p}__parsed").is_not_null()).alias(
                    f"{p}__is_number"
                )
                for p in numbers
            ],
            *[
                (~pl.col(f"{p}__parsed").is_nan() & ~pl.col(f"{p}__parsed").is_infinite())
                .fill_null(True)
                .alias(f"{p}__is_finite")
                for p in numbers
            ],
            *in_range,
        )
    )


def raw_event_rules(
    raw: pl.DataFrame,
    rules: ValidationRules,
    run_date: date,
    now: datetime,
) -> list[Rule]:
    """The raw-events suite: generated from the event contract and the validation rules."""
    gxe = _gxe()
    suite: list[Rule] = []
    for column in REQUIRED_EVENT_COLUMNS:
        name = column.name
        if name in ID_COLUMNS:
            length = f"{name}__length"
            suite += [
                Rule(gxe.ExpectColumnValuesToNotBeNull(column=length), f"{name} is missing"),
                Rule(
                    gxe.ExpectColumnValuesToBeBetween(column=length, max_value=rules.max_id_length),
                    f"{name} is longer than {rules.max_id_length} characters",
                ),
                Rule(
                    gxe.ExpectColumnValuesToBeInSet(column=f"{name}__printable", value_set=[True]),
                    f"{name} contains control characters",
                ),
            ]
        else:
            lookback_start = day_start(run_date) - timedelta(days=rules.lookback_days)
            future_limit = now + timedelta(hours=rules.future_tolerance_hours)
            suite += [
                Rule(
                    gxe.ExpectColumnValuesToBeOfType(column=name, type_="Timestamp"),
                    f"{name} is not a timestamp",
                    quarantines=False,
                ),
                # the reason distinguishes missing from unparseable text (see validate.py)
                Rule(gxe.ExpectColumnValuesToNotBeNull(column=name), f"{name} is missing"),
                Rule(
                    gxe.ExpectColumnValuesToBeBetween(column=name, min_value=lookback_start),
                    f"{name} is older than the {rules.lookback_days}-day lookback "
                    f"(before {lookback_start:%Y-%m-%d})",
                ),
                Rule(
                    gxe.ExpectColumnValuesToBeBetween(column=name, max_value=future_limit),
                    # no clock time in the text: the same rows give the same bytes on a rerun
                    f"{name} is more than {rules.future_tolerance_hours:g} h in the future",
                ),
            ]
    for prop in (p for p in NUMERIC_PROPERTIES if p in raw.columns):
        suite += [
            Rule(
                gxe.ExpectColumnValuesToBeInSet(column=f"{prop}__is_number", value_set=[True]),
                f"{prop} is not a number",
            ),
            Rule(
                gxe.ExpectColumnValuesToBeInSet(column=f"{prop}__is_finite", value_set=[True]),
                f"{prop} is not a finite number",
            ),
        ]
    for name, prop, event_type in _range_columns(raw, rules):
        bounds = rules.ranges[event_type][prop]
        scope = "" if event_type == ANY_EVENT_TYPE else f" of {event_type}"
        low = "" if bounds.min is None else f"{bounds.min:g}"
        high = "" if bounds.max is None else f"{bounds.max:g}"
        suite.append(
            Rule(
                gxe.ExpectColumnValuesToBeBetween(
                    column=name, min_value=bounds.min, max_value=bounds.max
                ),
                f"{prop}{scope} is outside [{low}, {high}]",
            )
        )
    return suite


def table_rules(
    rules: ValidationRules,
    row_count_band: tuple[int, int | None] | None,
    rows_quarantined: int | None = None,
) -> list[Rule]:
    """The whole-table suite, validated on one row of aggregates (`table_frame`).

    The error budget is critical once `error_budget_min_rows` rows are quarantined, a warning
    below that (a share of a handful of rows is noise, not a broken feed)."""
    gxe = _gxe()
    enforced = rows_quarantined is None or rows_quarantined >= rules.error_budget_min_rows
    suite = [
        Rule(
            gxe.ExpectColumnValuesToBeBetween(
                column="quarantined_share",
                max_value=rules.error_budget,
                severity="critical" if enforced else "warning",
            ),
            f"quarantined rows within the {rules.error_budget:.2%} error budget",
            quarantines=False,
        ),
        Rule(
            gxe.ExpectColumnValuesToBeBetween(
                column="repeated_event_ids", max_value=0, severity="warning"
            ),
            "event_id values are unique (a repeated id counts once)",
            quarantines=False,
        ),
    ]
    if row_count_band is not None:
        low_rows, high_rows = row_count_band
        suite.append(
            Rule(
                gxe.ExpectColumnValuesToBeBetween(
                    column="rows_read", min_value=low_rows, max_value=high_rows
                ),
                f"rows read within [{low_rows}, {high_rows or ''}] (recent runs)",
                quarantines=False,
            )
        )
    return suite


def event_type_rules(catalogue: frozenset[str]) -> list[Rule]:
    """The event-type suite (validated on distinct types and counts): unknown types warn."""
    gxe = _gxe()
    return [
        Rule(
            gxe.ExpectColumnValuesToBeInSet(
                column="event_type", value_set=sorted(catalogue), severity="warning"
            ),
            "event_type is not in the catalogue (kept, counts 0 unless weighted)",
            quarantines=False,
        )
    ]


_PANDAS_TYPES = {pl.String: "str", pl.Float64: "float64", pl.Int64: "int64", pl.Boolean: "bool"}


def _pandas_type(column: Column) -> str | None:
    """The type name GX sees in pandas for a contract dtype (None: not checked)."""
    if isinstance(column.dtype, pl.Datetime):
        return "Timestamp"
    return _PANDAS_TYPES.get(type(column.dtype))


OUTPUT_SAMPLE_ROWS = 100
"""Rows of each output table GX sees besides those a Polars check flags (for its types)."""


def output_suspects(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """The rows of a staged output table that output_rules' GX suite validates: every row a
    row-level rule of it could fail (a null where the contract allows none, a value outside
    the allowed ones, a repeated key), found by one Polars pass, and the first
    OUTPUT_SAMPLE_ROWS rows for the column types. A rule fails on the table exactly when it
    fails on these rows; GX's pandas pass over a 500 k-row table cost seconds."""
    present = set(frame.columns)
    columns = [c for c in OUTPUT_TABLES[table] if c.name in present]
    flags = [pl.col(c.name).is_null() for c in columns if not c.nullable]
    flags += [
        pl.col(c.name).is_not_null() & ~pl.col(c.name).is_in(list(c.allowed))
        for c in columns
        if c.allowed
    ]
    keys = [k for k in OUTPUT_KEYS.get(table, ()) if k in present]
    if keys:
        flags.append(pl.struct(keys).is_duplicated())
    suspect = pl.any_horizontal(*flags) if flags else pl.lit(False)
    return frame.filter(suspect | (pl.int_range(pl.len()) < OUTPUT_SAMPLE_ROWS))


def output_rules(table: str) -> list[Rule]:
    """An output table's suite, from its contract: columns, types, nulls, values, keys."""
    gxe = _gxe()
    suite: list[Rule] = []
    for column in OUTPUT_TABLES[table]:
        suite.append(
            Rule(gxe.ExpectColumnToExist(column=column.name), f"{column.name} is missing", False)
        )
        pandas_type = _pandas_type(column)
        # pandas turns a nullable int/bool column with nulls into float/object: the Parquet type
        # itself is fixed by the writer (tasks/publish/write.py) and checked by the reader-contract
        # test
        if column.nullable and pandas_type in ("int64", "bool"):
            pandas_type = None
        if pandas_type is not None:
            suite.append(
                Rule(
                    gxe.ExpectColumnValuesToBeOfType(column=column.name, type_=pandas_type),
                    f"{column.name} is not {pandas_type}",
                    False,
                )
            )
        if not column.nullable:
            suite.append(
                Rule(
                    gxe.ExpectColumnValuesToNotBeNull(column=column.name),
                    f"{column.name} has nulls",
                    False,
                )
            )
        if column.allowed:
            suite.append(
                Rule(
                    gxe.ExpectColumnValuesToBeInSet(
                        column=column.name, value_set=list(column.allowed)
                    ),
                    f"{column.name} has values outside {', '.join(column.allowed)}",
                    False,
                )
            )
    keys = OUTPUT_KEYS.get(table, ())
    if len(keys) == 1:
        suite.append(
            Rule(gxe.ExpectColumnValuesToBeUnique(column=keys[0]), f"{keys[0]} repeats", False)
        )
    elif keys:
        suite.append(
            Rule(
                gxe.ExpectCompoundColumnsToBeUnique(column_list=list(keys)),
                f"({', '.join(keys)}) repeats",
                False,
            )
        )
    return suite
