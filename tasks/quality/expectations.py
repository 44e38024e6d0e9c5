"""Great Expectations suites generated from `scoring/schema.py` and the validation rules.

Nothing here is written twice: the raw-events suite comes from the event contract
(REQUIRED_EVENT_COLUMNS, OPTIONAL_EVENT_COLUMNS) and the configured rules. (The output tables
are checked against their contracts in Polars: tasks/quality/contracts.py.)

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
from scoring.metrics.rates import EXACT_MAGNITUDE
from scoring.schema import OPTIONAL_EVENT_COLUMNS, REQUIRED_EVENT_COLUMNS

RAW_SUITE = "raw_events"
TABLE_SUITE = "raw_events_table"
EVENT_TYPES_SUITE = "raw_event_types"

ID_COLUMNS: tuple[str, ...] = tuple(c.name for c in REQUIRED_EVENT_COLUMNS if c.dtype == pl.String)
NUMERIC_PROPERTIES: tuple[str, ...] = tuple(
    c.name for c in OPTIONAL_EVENT_COLUMNS if c.dtype == pl.Float64
)
ANY_EVENT_TYPE = "*"
NOT_ALL_QUARANTINED = "not every row read is quarantined"
UNREADABLE_TIME = "occurred_at is missing or not a timestamp"
"""The meaning of the not-null expectation on the parsed `occurred_at` (each quarantined row
says which: validate.row_reason)."""
REPRESENTABLE_YEARS = (1, 9999)
"""Timestamps of other years are quarantined: Python's datetime (GX, pandas, Data Docs) has none."""
# Unicode's control characters (C0 with tab, newline and carriage return, DEL, C1) and the line
# and paragraph separators: an id or event type holding one is not what it prints as
CONTROL_CHARACTERS = [chr(c) for c in (*range(32), *range(127, 160), 0x2028, 0x2029)]


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
        types = event_types.to_frame("event_type")
        unprintable = {"event_type": types.filter(_unprintable("event_type"))["event_type"]}
    suspect = pl.any_horizontal(*[failure_of(r.expectation) for r in suite if r.quarantines])
    return check_columns(raw, rules, keep_parsed=True, unprintable=unprintable).select(
        suspect.alias("suspect"), *[parsed(p) for p in numbers_from_text(raw)]
    )


def representable_time(timestamp: pl.Expr) -> pl.Expr:
    """A timestamp within REPRESENTABLE_YEARS (null: True)."""
    low, high = REPRESENTABLE_YEARS
    return timestamp.dt.year().is_between(low, high).fill_null(True)


def _blank(column: str) -> pl.Expr:
    """Text with nothing but white space: missing, kept as it was in the quarantine."""
    return pl.col(column).str.strip_chars() == ""


def _unprintable(column: str) -> pl.Expr:
    """Text holding a control character (blank text is missing instead)."""
    return pl.col(column).str.contains_any(CONTROL_CHARACTERS) & ~_blank(column)


def _printable(column: str, unprintable: dict[str, pl.Series] | None) -> pl.Expr:
    """True unless the text holds a control character (null or blank text: True).

    `unprintable` maps a column to every distinct value of it that holds one (computed on
    the distinct values, for columns with few of them).
    """
    if unprintable is not None and column in unprintable:
        values = unprintable[column]
        flag = ~pl.col(column).is_in(values.implode()) if values.len() else pl.lit(True)
    else:
        flag = ~_unprintable(column)
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
            # null (failing as missing, the reason says out of range) outside the years GX
            # can hold: it would crash on them
            pl.when(representable_time(pl.col("occurred_at")))
            .then(pl.col("occurred_at"))
            .alias("occurred_at"),
            *[
                pl.when(~_blank(c))
                .then(pl.col(c).str.len_chars().cast(pl.Int64))
                .alias(f"{c}__length")
                for c in ID_COLUMNS
            ],
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
            *[
                # non-finite numbers have their own reason
                (
                    ~pl.col(f"{p}__parsed").is_finite()
                    | (pl.col(f"{p}__parsed").abs() < EXACT_MAGNITUDE)
                )
                .fill_null(True)
                .alias(f"{p}__summable")
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
                # each row's reason tells missing from unparseable text (validate.row_reason)
                Rule(gxe.ExpectColumnValuesToNotBeNull(column=name), UNREADABLE_TIME),
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
            Rule(
                gxe.ExpectColumnValuesToBeInSet(column=f"{prop}__summable", value_set=[True]),
                f"{prop} is beyond the representable range (±{EXACT_MAGNITUDE:g})",
            ),
        ]
    for name, prop, event_type in _range_columns(raw, rules):
        bounds = rules.ranges[event_type][prop]
        scope = "" if event_type == ANY_EVENT_TYPE else f" of {event_type}"
        suite.append(
            Rule(
                gxe.ExpectColumnValuesToBeBetween(
                    column=name, min_value=bounds.min, max_value=bounds.max
                ),
                f"{prop}{scope} is {outside(bounds.min, bounds.max)}",
            )
        )
    return suite


def outside(low: float | None, high: float | None) -> str:
    """`outside [1, 7]`, `below 0` or `above 100`: a range a value failed, as people say it."""
    if high is None:
        return f"below {low:g}"
    if low is None:
        return f"above {high:g}"
    return f"outside [{low:g}, {high:g}]"


def row_band(low: int, high: int | None) -> str:
    """`1,200 to 3,600` or `at least 1,200` rows."""
    return f"at least {low:,}" if high is None else f"{low:,} to {high:,}"


def out_of_range(reason: str) -> bool:
    """Whether a quarantine reason is a configured range's (worded by `outside`)."""
    return any(f" is {word} " in reason for word in ("outside", "below", "above"))


def percent(share: float) -> str:
    """A share as people read it: `1%`, `66.7%`, `0.0029%` (three significant digits)."""
    if 0 < share < 1e-5:
        return "< 0.001%"
    return f"{share * 100:.3g}%"


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
            f"quarantined rows within the {percent(rules.error_budget)} error budget",
            quarantines=False,
        ),
        Rule(
            # whatever the budget's minimum rows: a run with nothing valid has nothing to score
            gxe.ExpectColumnValuesToBeBetween(
                column="quarantined_share", max_value=1, strict_max=True
            ),
            NOT_ALL_QUARANTINED,
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
                f"rows read {row_band(low_rows, high_rows)} (recent runs)",
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
