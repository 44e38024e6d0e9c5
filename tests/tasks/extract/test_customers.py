"""The customers table: one reader for metrics, follow-ups and backtest; read from any format,
errors name the file and what to fix."""

import gzip
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoring.config import ScoringConfig
from scoring.followup_config import FollowupsConfig
from scoring.schema import CONTRIBUTIONS, SCORES, polars_schema
from tasks.backtest.run import run_backtest
from tasks.extract.customers import CustomersInputError, check_customers, read_customers
from tasks.extract.files import EventInputError
from tasks.followups.track import track_followups

ROWS = [("007", "pro"), ("008", "free")]


def test_reads_csv_as_text_and_parquet_typed(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("customer_id,plan,signup_date\n007,pro,2026-01-02\n")
    assert read_customers(str(tmp_path / "c.csv")).rows() == [("007", "pro", "2026-01-02")]
    pl.DataFrame({"customer_id": [7], "plan": ["free"]}).write_parquet(tmp_path / "c.parquet")
    parquet = read_customers(str(tmp_path / "c.parquet"))
    assert parquet.schema == {"customer_id": pl.Int64, "plan": pl.String}


@pytest.mark.parametrize(
    "name", ["c.csv", "c.CSV", "c.csv.gz", "c.ndjson", "c.jsonl", "c.json", "c.ndjson.gz", "c.pq"]
)
def test_reads_every_supported_format(tmp_path: Path, name: str) -> None:
    table = pl.DataFrame(ROWS, schema=["customer_id", "plan"], orient="row")
    path = tmp_path / name
    kind = name.lower().removesuffix(".gz").rsplit(".", 1)[1]
    if kind == "pq":
        table.write_parquet(path)
    else:
        text = table.write_csv() if kind == "csv" else table.write_ndjson()
        data = text.encode()
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert read_customers(str(path), required=("plan",)).rows() == ROWS


def test_missing_file_and_unsupported_type_are_errors(tmp_path: Path) -> None:
    with pytest.raises(CustomersInputError, match=r"missing\.csv: cannot read the customers table"):
        read_customers(str(tmp_path / "missing.csv"))
    (tmp_path / "c.txt").write_text("customer_id\n1\n")
    with pytest.raises(CustomersInputError, match=r"c\.txt: unsupported file type '\.txt'"):
        read_customers(str(tmp_path / "c.txt"))


@pytest.mark.parametrize(
    ("text", "required", "message"),
    [
        (
            "id,plan\n1,pro\n",
            (),
            "missing column(s) customer_id; a customers table needs customer_id (found: id, plan)",
        ),
        (
            "customer_id,tier\n007,gold\n",
            ("plan",),
            "missing column(s) plan; a customers table needs customer_id and plan "
            "(found: customer_id, tier)",
        ),
        ("\n", (), "cannot read the customers table: "),
    ],
)
def test_missing_columns_name_the_file_what_is_needed_and_what_was_found(
    tmp_path: Path, text: str, required: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "c.csv"
    path.write_text(text)
    with pytest.raises(CustomersInputError, match=re.escape(f"{path}: {message}")):
        read_customers(str(path), required)


def test_extra_columns_are_kept_and_only_required_ones_are_checked(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("customer_id,tier\n007,gold\n")
    assert read_customers(str(tmp_path / "c.csv")).columns == ["customer_id", "tier"]


def test_duplicate_ids_are_errors_naming_the_repeated_ids(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text("customer_id,plan\nx,pro\ny,free\nx,free\nz,a\ny,b\n")
    with pytest.raises(
        CustomersInputError,
        match=r"b\.csv: customer_id must be unique in the customers table; repeated: x, y$",
    ):
        read_customers(str(tmp_path / "b.csv"))
    # ids differing only by leading zeros are different ids in a CSV (read as text)
    (tmp_path / "c.csv").write_text("customer_id\n7\n007\n")
    assert read_customers(str(tmp_path / "c.csv"))["customer_id"].to_list() == ["7", "007"]


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("c.csv", lambda p: p.write_text("customer_id,plan\nx,pro\n,free\n  ,free\n")),
        (
            "c.parquet",
            lambda p: pl.DataFrame(
                {"customer_id": ["x", None, None], "plan": ["a"] * 3}
            ).write_parquet(p),
        ),
    ],
)
def test_rows_without_a_customer_id_are_one_error_naming_the_first(
    tmp_path: Path, name: str, write: Callable[[Path], object]
) -> None:
    """Two rows without an id were reported as 'repeated: None'; one was kept unseen."""
    write(tmp_path / name)
    message = rf"{name}: customer_id is empty on 2 row\(s\) .*\(the first: data row 2\)"
    with pytest.raises(CustomersInputError, match=message):
        read_customers(str(tmp_path / name))


def test_lists_structs_and_bytes_are_errors_naming_the_columns(tmp_path: Path) -> None:
    table = pl.DataFrame({"customer_id": ["a"], "plan": ["pro"], "arr": [[1]], "raw": [b"x"]})
    table.with_columns(owner=pl.struct(x=1)).write_parquet(tmp_path / "c.parquet")
    (tmp_path / "c.ndjson").write_text('{"customer_id": "a", "plan": {"name": "pro"}}\n')
    message = (
        "column(s) arr (List(Int64)), raw (Binary), owner (Struct({'x': Int32})) hold lists, "
        "structs or bytes; a customers table holds plain values"
    )
    with pytest.raises(CustomersInputError, match=re.escape(f"c.parquet: {message}")):
        read_customers(str(tmp_path / "c.parquet"))
    with pytest.raises(CustomersInputError, match=r"c\.ndjson: column\(s\) plan \(Struct"):
        read_customers(str(tmp_path / "c.ndjson"))


def test_a_table_polars_cannot_read_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("customer_id,plan\na,pro,extra\n")
    with pytest.raises(CustomersInputError, match="cannot read the customers table") as raised:
        read_customers(str(tmp_path / "c.csv"))
    assert "\n" not in str(raised.value)  # Polars' hint below its message is left out


def test_a_fixed_offset_time_zone_is_read_in_utc(tmp_path: Path) -> None:
    signed_up = pa.array([1774864800000], pa.timestamp("ms", "+05:30"))  # pandas writes these
    table = pa.table({"customer_id": ["a"], "plan": ["pro"], "signed_up_at": signed_up})
    pq.write_table(table, tmp_path / "c.parquet")
    frame = read_customers(str(tmp_path / "c.parquet"))
    assert frame["signed_up_at"].to_list() == [datetime(2026, 3, 30, 10, tzinfo=UTC)]


def test_errors_are_input_errors_the_cli_reports() -> None:
    assert issubclass(CustomersInputError, EventInputError)


@pytest.fixture()
def duplicated(tmp_path: Path) -> str:
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,plan\n007,pro\n007,free\n")
    return str(path)


def test_backtest_reads_through_the_shared_reader(tmp_path: Path, duplicated: str) -> None:
    events = tmp_path / "valid.parquet"
    pl.DataFrame(schema=polars_schema(SCORES)).select("customer_id").with_columns(
        event_type=pl.lit(None, pl.String), occurred_at=pl.lit(None, pl.Datetime("us", "UTC"))
    ).write_parquet(events)
    config = ScoringConfig.model_validate({"weights": {"login": 1}})
    with pytest.raises(CustomersInputError, match=r"customers\.csv: customer_id must be unique"):
        run_backtest.fn(
            str(events), config, "config.yaml", [date(2026, 3, 1)], 30, str(tmp_path), duplicated
        )


def test_followups_read_through_the_shared_reader(tmp_path: Path, duplicated: str) -> None:
    scores, contributions = tmp_path / "scores.parquet", tmp_path / "contributions.parquet"
    pl.DataFrame(schema=polars_schema(SCORES)).write_parquet(scores)
    pl.DataFrame(schema=polars_schema(CONTRIBUTIONS)).write_parquet(contributions)
    config = ScoringConfig.model_validate({"weights": {"login": 1}})
    arguments = (str(scores), str(contributions), config, date(2026, 3, 31))
    places = (str(tmp_path / "staging"), str(tmp_path / "out"))
    with pytest.raises(CustomersInputError, match=r"customers\.csv: customer_id must be unique"):
        track_followups.fn(*arguments, *places, duplicated)
    Path(duplicated).write_text("customer_id\n007\n")  # no plan: no rule needs one here
    assert track_followups.fn(*arguments, *places, duplicated).flags == {
        "at_risk": 0,
        "upsell_ready": 0,
    }


PLAN_RULES = FollowupsConfig.model_validate(
    {
        "rules": [
            {
                "name": "pql",
                "kind": "upsell_ready",
                "when": {"condition": "product_qualified_lead"},
                "reason": "{plan}",
            }
        ]
    }
)


def test_a_table_without_a_column_a_rule_needs_is_refused_before_scoring(
    tmp_path: Path,
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,account_owner\n007,Ada\n")
    with pytest.raises(
        CustomersInputError,
        match=r"customers\.csv: no column 'plan', needed by the follow-up rule\(s\) pql "
        r"\(found: customer_id, account_owner\)",
    ):
        check_customers(str(path), PLAN_RULES)
    assert check_customers(str(path), None) == []  # no rules, nothing needed


def test_what_the_followups_will_miss_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,plan,name\n007,pro,Acme\n")
    assert check_customers(str(path), PLAN_RULES) == [
        f"{path}: no column account_owner (routing.owner_column), arr (value.column): "
        "null in the flags (value factor 1)"
    ]
    assert check_customers(None, PLAN_RULES) == [
        "no customers table (--customers, ENGAGE_CUSTOMERS): rules pql never fire; "
        "flags carry no owner, name or value"
    ]
    assert check_customers(None, FollowupsConfig()) == []
