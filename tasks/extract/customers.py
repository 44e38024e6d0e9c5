"""The customers table (`--customers`): one reader and one contract for every flow that uses it
(metric panel segments, plan-based follow-up rules, backtest segments)."""

import polars as pl

from scoring.followup_config import FollowupsConfig
from tasks.extract.files import (
    PARQUET_ERRORS,
    EventFile,
    EventInputError,
    delimiter_of,
    error_text,
    header_columns,
    not_plain_columns,
    read_untyped_file,
    reject_repeated_names,
)


class CustomersInputError(EventInputError):
    """A customers table that cannot be read or breaks its contract (a bad file, not a bad
    event: an EventInputError, so the CLI reports it like any unreadable input)."""


CUSTOMER_COLUMNS = ("customer_id", "plan")
"""The columns a customers table is recognised by (its CSV delimiter is found from them): the
key, and the plan that plan-based follow-up rules read."""


def check_customer_columns(path: str, found: list[str], required: tuple[str, ...] = ()) -> None:
    """Raise CustomersInputError naming the file when `found` lacks customer_id or `required`."""
    needed = ("customer_id", *(name for name in required if name != "customer_id"))
    missing = [name for name in needed if name not in found]
    if missing:
        raise CustomersInputError(
            f"{path}: missing column(s) {', '.join(missing)}; a customers table needs "
            f"{' and '.join(needed)} (found: {', '.join(found) or 'none'})"
        )


def customers_header(path: str, needed: dict[str, list[str]] | None = None) -> None:
    """Check a customers table's file type and declared columns without reading its rows
    (the command line's pre-flight): customer_id, and the columns configured follow-up rules
    read (`needed`: column -> rules); NDJSON is checked when read."""
    try:
        columns = header_columns(EventFile.of(path), CUSTOMER_COLUMNS)
    except EventInputError as error:
        raise CustomersInputError(str(error)) from error
    if columns is not None:
        check_customer_columns(path, columns)
        check_rule_columns(path, columns, needed or {})


def read_customers(path: str, required: tuple[str, ...] = ()) -> pl.DataFrame:
    """A customers table (CSV, NDJSON or Parquet, optionally .gz) with a unique customer_id
    and the `required` columns. CSV columns are text; Parquet and NDJSON keep their types."""
    try:
        file = EventFile.of(path)
    except EventInputError as error:
        raise CustomersInputError(str(error)) from error
    try:
        frame = _customers_frame(file)
    except (*PARQUET_ERRORS, EventInputError) as error:
        problem = error_text(error).removeprefix(f"{path}: ")  # named once
        raise CustomersInputError(f"{path}: cannot read the customers table: {problem}") from error
    check_customer_columns(path, frame.columns, required)
    check_plain_values(path, frame.schema)
    check_ids_given(path, frame)
    duplicated = frame.filter(pl.col("customer_id").is_duplicated())["customer_id"]
    if duplicated.len():
        raise CustomersInputError(
            f"{path}: customer_id must be unique in the customers table; repeated: "
            f"{', '.join(map(str, duplicated.unique().sort().head(5).to_list()))}"
        )
    return frame


def check_ids_given(path: str, frame: pl.DataFrame) -> None:
    """CustomersInputError naming the rows without a customer_id (null or blank): no customer
    can be matched to them."""
    ids = pl.col("customer_id")
    blank = frame.select(ids.is_null() | (ids.cast(pl.String).str.strip_chars() == "")).to_series()
    if blank.any():
        first = int(blank.arg_true()[0]) + 1
        raise CustomersInputError(
            f"{path}: customer_id is empty on {blank.sum():,} row(s) of the customers table "
            f"(the first: data row {first:,}); give each row its customer's id or drop it"
        )


def _customers_frame(file: EventFile) -> pl.DataFrame:
    """The table as stored: CSV as text (its delimiter found from the header, a column named
    twice refused), NDJSON and Parquet (a .parquet.gz too) with their types."""
    if file.format == "parquet":
        return read_untyped_file(file)
    if file.format == "ndjson":
        with open(file.path, "rb") as stream:  # a path would be read as a glob
            return pl.read_ndjson(stream, infer_schema_length=None)
    separator = delimiter_of(file, CUSTOMER_COLUMNS)
    frame = pl.read_csv(file.path, separator=separator, infer_schema=False, glob=False)
    reject_repeated_names(file, frame.columns)
    return frame


def check_plain_values(path: str, schema: pl.Schema) -> None:
    """Raise CustomersInputError naming the columns that hold lists, structs or bytes: segments,
    plans, owners and values are read as text or numbers, which those are not."""
    if nested := not_plain_columns(schema):
        raise CustomersInputError(
            f"{path}: column(s) {', '.join(nested)} hold lists, structs or bytes; a customers "
            "table holds plain values (text, numbers, dates, booleans): flatten or drop them"
        )


def check_rule_columns(path: str, found: list[str], needed: dict[str, list[str]]) -> None:
    """Raise CustomersInputError naming the first column a configured follow-up rule reads
    (`needed`: column -> rules, FollowupsConfig.customer_columns_needed) that `found` lacks."""
    for column, rule_names in needed.items():
        if column not in found:
            raise CustomersInputError(
                f"{path}: no column {column!r}, needed by the follow-up rule(s) "
                f"{', '.join(rule_names)} (found: {', '.join(found)})"
            )


def check_customers(path: str | None, followups: FollowupsConfig | None) -> list[str]:
    """Refuse a customers table the follow-up rules cannot use (CustomersInputError: unreadable,
    or without a column a configured rule needs, e.g. plan for product_qualified_lead and
    usage_near_limit rules); return what the follow-ups will miss, as warnings: plan rules
    without a table, owner, name or value columns the table lacks (null in the flags)."""
    rules = followups or FollowupsConfig()
    needed = rules.customer_columns_needed()
    if path is None:
        if not needed:
            return []
        plan_rules = ", ".join(rule for names in needed.values() for rule in names)
        return [
            f"no customers table (--customers, ENGAGE_CUSTOMERS): rules {plan_rules} never "
            "fire; flags carry no owner, name or value"
        ]
    table = read_customers(path)
    check_rule_columns(path, table.columns, needed)
    if followups is None:
        return []
    wanted = {
        rules.routing.owner_column: "routing.owner_column",
        rules.routing.name_column: "routing.name_column",
        **({rules.value.column: "value.column"} if rules.value.column else {}),
    }
    missing = [f"{column} ({key})" for column, key in wanted.items() if column not in table]
    if not missing:
        return []
    return [f"{path}: no column {', '.join(missing)}: null in the flags (value factor 1)"]
