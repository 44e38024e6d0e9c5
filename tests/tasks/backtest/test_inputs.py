"""Outside labels and observation ends: what is read, and the messages for what is not."""

import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from tasks.backtest.inputs import BacktestInputError, observed_until_of, read_labels


def _write(tmp_path: Path, text: str, name: str = "labels.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_labels_are_typed(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "customer_id,observation_date,churned,observed_until\n"
        "a,2026-01-05,1,2026-02-01\nb,2026-01-05 00:00:00,0.0,\nc,2026-01-12,True,2026-03-01\n",
    )
    labels = read_labels(path)
    assert labels.schema == pl.Schema(
        {
            "customer_id": pl.String,
            "observation_date": pl.Date,
            "churned": pl.Boolean,
            "observed_until": pl.Date,
        }
    )
    assert labels["churned"].to_list() == [True, False, True]
    assert labels["observation_date"].to_list() == [date(2026, 1, 5)] * 2 + [date(2026, 1, 12)]
    assert labels["observed_until"].to_list() == [date(2026, 2, 1), None, date(2026, 3, 1)]


def test_parquet_labels_without_observed_until(tmp_path: Path) -> None:
    path = tmp_path / "labels.parquet"
    pl.DataFrame(
        {"customer_id": [1, 2], "observation_date": [date(2026, 1, 5)] * 2, "churned": [1, 0]}
    ).write_parquet(path)
    labels = read_labels(str(path))
    assert labels["customer_id"].to_list() == ["1", "2"]
    assert labels["observed_until"].null_count() == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customer_id,churned\na,1\n", "missing column(s) observation_date"),
        ("customer_id,observation_date,churned\na,2026-13-01,1\n", "row(s) 1 are not"),
        ("customer_id,observation_date,churned\na,2026-01-01,2\nb,2026-01-01,x\n", "row(s) 1, 2"),
        ("customer_id,observation_date,churned\na,2026-01-01,1\na,2026-01-01,0\n", "repeat one"),
        ("customer_id,observation_date,churned\n,2026-01-01,1\n", "lack a customer_id"),
    ],
)
def test_bad_labels_name_the_fix(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BacktestInputError, match=re.escape(message)):
        read_labels(_write(tmp_path, text))
    with pytest.raises(BacktestInputError, match=r"must be a \.csv"):
        read_labels(_write(tmp_path, text, "labels.txt"))


def test_labels_of_lists_or_bytes_are_an_error_naming_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "labels.parquet"
    labels = {"customer_id": [["a"]], "observation_date": ["2026-01-05"], "churned": [b"1"]}
    pl.DataFrame(labels).write_parquet(path)
    with pytest.raises(
        BacktestInputError,
        match=re.escape("column(s) customer_id (List(String)), churned (Binary) hold lists"),
    ):
        read_labels(str(path))


def test_a_labels_file_polars_cannot_read_is_one_line(tmp_path: Path) -> None:
    ragged = _write(tmp_path, "customer_id,observation_date,churned\na,2026-01-05,1,extra\n")
    with pytest.raises(BacktestInputError, match="cannot read the labels file") as raised:
        read_labels(ragged)
    assert "\n" not in str(raised.value)  # Polars' hint below its message is left out


def test_observed_until_from_the_customers_table() -> None:
    customers = pl.DataFrame({"customer_id": ["a", "b"], "observed_until": ["2026-02-01", None]})
    found = observed_until_of(customers, "customers.csv")
    assert found is not None and found["observed_until"].to_list() == [date(2026, 2, 1), None]
    assert observed_until_of(customers.drop("observed_until"), "customers.csv") is None
    with pytest.raises(BacktestInputError, match=r"customers\.csv: observed_until must be a date"):
        observed_until_of(
            customers.with_columns(pl.lit("soon").alias("observed_until")), "customers.csv"
        )
