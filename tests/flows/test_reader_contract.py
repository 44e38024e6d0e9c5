"""The contract for readers: every output table is read by pyarrow, pandas, DuckDB and Spark
with the contract's types, the partition key as a date, and the schema version in the Parquet
metadata and the manifest."""

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from flows.daily import daily_scoring
from scoring.config import ScoringConfig
from scoring.schema import OUTPUT_SCHEMA_VERSION, OUTPUT_TABLES, arrow_type_name

ROOT = Path(__file__).parents[2]
SPARK_PYTHON = ROOT / ".venv-spark" / "bin" / "python"
RUN_DATE = date(2026, 3, 31)
EVENTS = """event_id,customer_id,event_type,occurred_at,campaign
e1,alice,login,2026-03-31T10:00:00Z,spring
e2,bob,invite_sent,2026-03-30T10:00:00+02:00,
e3,,login,2026-03-30T10:00:00Z,
"""
PANDAS_TEXT = "str" if int(pd.__version__.split(".")[0]) >= 3 else "object"

# contract type (as Arrow names it) -> what each reader shows
READER_TYPES = {
    "string": {"pandas": PANDAS_TEXT, "duckdb": "VARCHAR", "spark": "string"},
    "double": {"pandas": "float64", "duckdb": "DOUBLE", "spark": "double"},
    "int64": {"pandas": "int64", "duckdb": "BIGINT", "spark": "bigint"},
    "bool": {"pandas": "bool", "duckdb": "BOOLEAN", "spark": "boolean"},
    "date32[day]": {"pandas": "object", "duckdb": "DATE", "spark": "date"},
    "timestamp[us, tz=UTC]": {
        "pandas": "datetime64[us, UTC]",
        "duckdb": "TIMESTAMP WITH TIME ZONE",
        "spark": "timestamp",
    },
}
RAW_QUARANTINE_COLUMNS = ("event_id", "customer_id", "event_type", "occurred_at", "campaign")


def expected_types(table: str) -> dict[str, str]:
    """column -> contract Arrow type name, quarantine's raw text columns included."""
    types = {c.name: arrow_type_name(c.dtype) for c in OUTPUT_TABLES[table]}
    if table == "quarantine":
        types |= dict.fromkeys(RAW_QUARANTINE_COLUMNS, "string")
    return types


@dataclass
class SparkReader:
    """tests/flows/spark_reader.py running in the Spark venv, waiting for what to read."""

    process: subprocess.Popen[str]
    log: Path

    def read(self, output: Path) -> dict:
        request = {"output": str(output), "tables": list(OUTPUT_TABLES)}
        stdout, _ = self.process.communicate(json.dumps(request) + "\n", timeout=600)
        lines = [line for line in stdout.splitlines() if line.startswith("SPARK-RESULT ")]
        failure = self.log.read_text()[-3000:]
        assert lines, f"Spark failed ({self.process.returncode}):\n{failure}"
        return json.loads(lines[0].removeprefix("SPARK-RESULT "))


@pytest.fixture(scope="module")
def spark_reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkReader]:
    """Spark (local mode, one session), started before the flow run: its JVM starts while the
    flow runs."""
    if not SPARK_PYTHON.exists():
        subprocess.run(["make", "-s", ".venv-spark/.installed"], cwd=ROOT, check=True)
    log = tmp_path_factory.mktemp("spark") / "spark.log"
    with (
        log.open("w") as stderr,
        subprocess.Popen(
            [str(SPARK_PYTHON), str(Path(__file__).with_name("spark_reader.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "PYSPARK_PYTHON": str(SPARK_PYTHON), "TZ": "UTC"},
        ) as process,
    ):
        yield SparkReader(process, log)
        if process.poll() is None:  # the tests that read with Spark did not run
            process.kill()


@pytest.fixture(scope="module")
def output(
    spark_reader: SparkReader, prefect_api: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    root = tmp_path_factory.mktemp("contract")
    (root / "events.csv").write_text(EVENTS)
    config = ScoringConfig(weights={"login": 1, "invite_sent": 10})
    daily_scoring(
        events=str(root / "events.csv"), config=config, run_date=RUN_DATE, output=str(root / "out")
    )
    return root / "out"


@pytest.fixture(scope="module")
def spark_read(spark_reader: SparkReader, output: Path) -> dict:
    """All tables read by the Spark session."""
    return spark_reader.read(output)


@pytest.mark.parametrize("table", list(OUTPUT_TABLES))
def test_pyarrow_reads_the_contract_and_the_schema_version(output: Path, table: str) -> None:
    dataset = ds.dataset(output / table, partitioning="hive")
    types = {f.name: str(f.type) for f in dataset.schema}
    assert types.pop("run_date") in ("string", "date32[day]")
    assert types == expected_types(table)
    for file in (output / table).glob("*/*.parquet"):
        metadata = pq.read_schema(file).metadata
        assert metadata[b"engage.schema_version"] == OUTPUT_SCHEMA_VERSION.encode()
        assert metadata[b"engage.table"] == table.encode()


@pytest.mark.parametrize("table", list(OUTPUT_TABLES))
def test_pandas_reads_the_contract(output: Path, table: str) -> None:
    frame = pd.read_parquet(output / table)
    dtypes = {name: str(dtype) for name, dtype in frame.dtypes.items()}
    assert dtypes.pop("run_date") == "category"
    assert dtypes == {c: READER_TYPES[t]["pandas"] for c, t in expected_types(table).items()}
    # tables with no rows this run (no flags, say) still carry their typed columns
    assert list(frame["run_date"].astype(str).unique()) == (["2026-03-31"] if len(frame) else [])


@pytest.mark.parametrize("table", list(OUTPUT_TABLES))
def test_duckdb_reads_the_contract(output: Path, table: str) -> None:
    files = str(output / table / "*" / "*.parquet")
    described = duckdb.sql(
        f"describe select * from read_parquet('{files}', hive_partitioning=true)"
    ).fetchall()
    types = {row[0]: row[1] for row in described}
    assert types.pop("run_date") == "DATE"
    assert types == {c: READER_TYPES[t]["duckdb"] for c, t in expected_types(table).items()}


@pytest.mark.parametrize("table", list(OUTPUT_TABLES))
def test_spark_reads_the_contract(spark_read: dict, output: Path, table: str) -> None:
    types = dict(spark_read[table]["types"])
    assert types.pop("run_date") == "date"
    assert types == {c: READER_TYPES[t]["spark"] for c, t in expected_types(table).items()}
    assert spark_read[table]["rows"] == pl.read_parquet(output / table).height


def test_spark_sees_the_same_instants(spark_read: dict, output: Path) -> None:
    expected = pl.read_parquet(output / "scores")["last_event_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    assert spark_read["scores"]["last_event_at"] == sorted(expected.to_list())
    assert spark_read["scores"]["last_event_at"] == ["2026-03-30T08:00:00", "2026-03-31T10:00:00"]


def test_the_manifest_carries_the_schema_version_and_every_file(output: Path) -> None:
    manifest = json.loads((output / "runs" / "run_date=2026-03-31" / "manifest.json").read_text())
    assert manifest["schema_version"] == OUTPUT_SCHEMA_VERSION
    assert set(manifest["outputs"]) == set(OUTPUT_TABLES)
    for described in manifest["outputs"].values():
        assert (output / described["path"]).exists()
    assert len(manifest["manifest_hash"]) == 64
