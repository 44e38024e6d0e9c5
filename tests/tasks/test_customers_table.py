"""The customers table: read from any format, errors name the file and what to fix."""

from pathlib import Path

import polars as pl
import pytest

from tasks.extract import EventInputError
from tasks.metrics import read_customers


def test_reads_csv_as_text_and_parquet_typed(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("customer_id,plan,signup_date\n007,pro,2026-01-02\n")
    assert read_customers(str(tmp_path / "c.csv")).rows() == [("007", "pro", "2026-01-02")]
    pl.DataFrame({"customer_id": ["a"], "plan": ["free"]}).write_parquet(tmp_path / "c.parquet")
    assert read_customers(str(tmp_path / "c.parquet"))["plan"].to_list() == ["free"]


def test_missing_id_column_and_duplicates_are_errors(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,plan\n1,pro\n")
    with pytest.raises(EventInputError, match=r"a\.csv: the customers table has no customer_id"):
        read_customers(str(tmp_path / "a.csv"))
    (tmp_path / "b.csv").write_text("customer_id,plan\nx,pro\ny,free\nx,free\n")
    with pytest.raises(EventInputError, match=r"b\.csv: customer_id must be unique.*repeated: x"):
        read_customers(str(tmp_path / "b.csv"))
