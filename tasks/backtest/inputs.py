"""The backtest's own inputs: outside churn labels (`--labels`) and the customers' observation
ends (`observed_until`), read and checked with messages naming the file, column and rows.

Labels: CSV or Parquet (optionally .gz for CSV) with customer_id, observation_date (YYYY-MM-DD),
churned (0/1, true/false) and optionally observed_until (YYYY-MM-DD); one row per customer and
date. The customers table may carry observed_until too (the labels' value wins).
"""

from pathlib import Path

import polars as pl

from scoring.backtest.observations import OBSERVATION_DATE, OBSERVED_UNTIL
from tasks.extract.files import (
    PARQUET_ERRORS,
    error_text,
    not_plain_columns,
    read_parquet_frame,
)

LABEL_COLUMNS = ("customer_id", OBSERVATION_DATE, "churned")
TRUE_TEXT = ("1", "true", "yes")
FALSE_TEXT = ("0", "false", "no")


class BacktestInputError(ValueError):
    """Inputs that cannot be backtested (range too short, bad labels or customers table…)."""


def _rows(frame: pl.DataFrame, bad: pl.Series) -> str:
    """Up to five 1-based data row numbers where `bad` holds (header not counted)."""
    rows = (bad.arg_true() + 1).head(5).to_list()
    return ", ".join(map(str, rows)) + (" …" if int(bad.sum()) > 5 else "")


def _as_date(frame: pl.DataFrame, column: str, source: str) -> pl.Series:
    """A date column from Date, Datetime or YYYY-MM-DD text; an error names the bad rows."""
    values = frame[column]
    if values.dtype == pl.Date:
        parsed = values
    elif isinstance(values.dtype, pl.Datetime):
        parsed = values.dt.date()
    else:
        # the date part of a timestamp too ("2026-01-05 00:00:00", "2026-01-05T00:00:00Z")
        text = values.cast(pl.String).str.strip_chars()
        parsed = text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
        bad = parsed.is_null() & text.is_not_null() & (text != "")
        if bad.any():
            raise BacktestInputError(
                f"{source}: {column} must be a date YYYY-MM-DD; row(s) {_rows(frame, bad)} "
                f"are not (e.g. {text.filter(bad)[0]!r})"
            )
    return parsed.alias(column)


def _as_churned(frame: pl.DataFrame, source: str) -> pl.Series:
    """churned as a boolean from 0/1, true/false (any case) or booleans."""
    values = frame["churned"]
    if values.dtype == pl.Boolean:
        parsed = values
    else:
        text = values.cast(pl.String).str.strip_chars().str.to_lowercase()
        number = text.cast(pl.Float64, strict=False)  # 1.0 / 0.0 from a float column
        parsed = (
            pl.select(
                pl.when(text.is_in(TRUE_TEXT) | (number == 1))
                .then(True)
                .when(text.is_in(FALSE_TEXT) | (number == 0))
                .then(False)
                .otherwise(None)
            )
            .to_series()
            .alias("churned")
        )
    bad = parsed.is_null()
    if bad.any():
        raise BacktestInputError(
            f"{source}: churned must be 0 or 1 (or true/false); row(s) {_rows(frame, bad)} are not"
        )
    return parsed.alias("churned")


def read_table(path: str, what: str) -> pl.DataFrame:
    """A CSV (all columns as text) or Parquet file."""
    name = Path(path).name.lower()
    if not Path(path).is_file():
        raise BacktestInputError(f"{path}: {what} not found")
    try:
        if name.endswith(".parquet"):
            return read_parquet_frame(path)
        if name.endswith((".csv", ".csv.gz")):
            return pl.read_csv(path, infer_schema=False, glob=False)
    except PARQUET_ERRORS as error:
        raise BacktestInputError(f"{path}: cannot read the {what}: {error_text(error)}") from error
    raise BacktestInputError(f"{path}: the {what} must be a .csv, .csv.gz or .parquet file")


def read_labels(path: str) -> pl.DataFrame:
    """The labels: customer_id (text), observation_date (date), churned (bool) and
    observed_until (date, null where not given)."""
    frame = read_table(path, "labels file")
    if nested := not_plain_columns(frame.schema):
        raise BacktestInputError(
            f"{path}: column(s) {', '.join(nested)} hold lists, structs or bytes; labels are "
            "text, dates and 0/1: flatten or drop them"
        )
    missing = [c for c in LABEL_COLUMNS if c not in frame.columns]
    if missing:
        raise BacktestInputError(
            f"{path}: missing column(s) {', '.join(missing)}; labels need "
            f"{', '.join(LABEL_COLUMNS)} (optional: {OBSERVED_UNTIL}); found: "
            f"{', '.join(frame.columns) or 'none'}"
        )
    empty = frame.select(pl.any_horizontal(pl.col(c).is_null() for c in LABEL_COLUMNS)).to_series()
    if empty.any():
        raise BacktestInputError(
            f"{path}: row(s) {_rows(frame, empty)} lack a customer_id, observation_date or churned"
        )
    until = (
        _as_date(frame, OBSERVED_UNTIL, path)
        if OBSERVED_UNTIL in frame.columns
        else pl.Series(OBSERVED_UNTIL, [None] * frame.height, dtype=pl.Date)
    )
    labels = pl.DataFrame(
        [
            frame["customer_id"].cast(pl.String),
            _as_date(frame, OBSERVATION_DATE, path),
            _as_churned(frame, path),
            until,
        ]
    )
    repeated = labels.select(pl.struct("customer_id", OBSERVATION_DATE).is_duplicated()).to_series()
    if repeated.any():
        raise BacktestInputError(
            f"{path}: one label per customer and observation date; row(s) "
            f"{_rows(labels, repeated)} repeat one"
        )
    return labels


def observed_until_of(customers: pl.DataFrame | None, source: str) -> pl.DataFrame | None:
    """customer_id, observed_until from a customers table with that column (else None)."""
    if customers is None or OBSERVED_UNTIL not in customers.columns:
        return None
    return pl.DataFrame(
        [customers["customer_id"].cast(pl.String), _as_date(customers, OBSERVED_UNTIL, source)]
    )
