"""The customers table (`--customers`): one reader and one contract for every flow that uses it
(metric panel segments, plan-based follow-up rules, backtest segments)."""

import polars as pl

from tasks.extract.files import EventFile, EventInputError


class CustomersInputError(EventInputError):
    """A customers table that cannot be read or breaks its contract (a bad file, not a bad
    event: an EventInputError, so the CLI reports it like any unreadable input)."""


def read_customers(path: str, required: tuple[str, ...] = ()) -> pl.DataFrame:
    """A customers table (CSV, NDJSON or Parquet, optionally .gz) with a unique customer_id
    and the `required` columns. CSV columns are text; Parquet and NDJSON keep their types."""
    try:
        file = EventFile.of(path)
    except EventInputError as error:
        raise CustomersInputError(str(error)) from error
    try:
        if file.format == "parquet":
            frame = pl.read_parquet(path)
        elif file.format == "csv":
            frame = pl.read_csv(path, infer_schema=False)
        else:
            frame = pl.read_ndjson(path, infer_schema_length=None)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise CustomersInputError(f"{path}: cannot read the customers table: {error}") from error
    needed = ["customer_id", *(name for name in required if name != "customer_id")]
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise CustomersInputError(
            f"{path}: missing column(s) {', '.join(missing)}; a customers table needs "
            f"{' and '.join(needed)} (found: {', '.join(frame.columns) or 'none'})"
        )
    duplicated = frame.filter(pl.col("customer_id").is_duplicated())["customer_id"]
    if duplicated.len():
        raise CustomersInputError(
            f"{path}: customer_id must be unique in the customers table; repeated: "
            f"{', '.join(map(str, duplicated.unique().sort().head(5).to_list()))}"
        )
    return frame
