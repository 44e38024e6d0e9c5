"""A contract's building block (Column) and what is derived from a contract: its Polars
schema, its Arrow type names and its Markdown table."""

from dataclasses import dataclass

import polars as pl

UTC_TIMESTAMP = pl.Datetime("us", "UTC")

OUTPUT_SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class Column:
    """One column of a contract: its name, dtype, whether it may be null, and what it means."""

    name: str
    dtype: pl.DataType
    description: str
    nullable: bool = False
    allowed: tuple[str, ...] = ()
    """The only values the column may hold (empty: any value)."""


def polars_schema(columns: tuple[Column, ...]) -> pl.Schema:
    """The Polars schema of a contract."""
    return pl.Schema({c.name: c.dtype for c in columns})


def arrow_type_name(dtype: pl.DataType) -> str:
    """The Arrow/Parquet name of a contract dtype, as readers of the files see it."""
    if isinstance(dtype, pl.Datetime):
        return f"timestamp[{dtype.time_unit}, tz={dtype.time_zone}]"
    names = {
        pl.String: "string",
        pl.Float64: "double",
        pl.Int64: "int64",
        pl.Boolean: "bool",
        pl.Date: "date32[day]",
    }
    return names.get(type(dtype), str(dtype).lower())


def markdown_table(columns: tuple[Column, ...]) -> str:
    """A README-ready table of a contract."""
    rows = ["| column | type | nullable | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{c.name}` | {arrow_type_name(c.dtype)} | {'yes' if c.nullable else 'no'} "
        f"| {c.description} |"
        for c in columns
    ]
    return "\n".join(rows)
