"""Partitions: layout, exact types, key kept out of the files, whole replacement."""

from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from scoring.schema import OUTPUT_SCHEMA_VERSION, SCORES
from tasks.publish.write import new_staging_dir, publish, write_partition

RUN_DATE = date(2026, 3, 31)


def _scores(customers: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": customers,
            "score": [1.0] * len(customers),
            "tier": ["very_disengaged"] * len(customers),
            "event_count": [1] * len(customers),
            "last_event_at": [None] * len(customers),
        }
    )


def test_partition_file_has_contract_types_metadata_and_no_key(tmp_path: Path) -> None:
    path = write_partition(_scores(["a"]), "scores", SCORES, tmp_path, RUN_DATE)
    assert path == tmp_path / "scores" / "run_date=2026-03-31" / "part-0.parquet"
    schema = pq.read_schema(path)
    assert schema.names == [c.name for c in SCORES]
    assert str(schema.field("customer_id").type) == "string"
    assert str(schema.field("last_event_at").type) == "timestamp[us, tz=UTC]"
    assert schema.metadata[b"engage.schema_version"] == OUTPUT_SCHEMA_VERSION.encode()


def test_same_frame_gives_the_same_bytes(tmp_path: Path) -> None:
    first = write_partition(_scores(["a", "b"]), "scores", SCORES, tmp_path / "1", RUN_DATE)
    second = write_partition(_scores(["a", "b"]), "scores", SCORES, tmp_path / "2", RUN_DATE)
    assert first.read_bytes() == second.read_bytes()


def test_publish_replaces_the_partition_whole_and_cleans_staging(tmp_path: Path) -> None:
    output = tmp_path / "out"
    for customers in (["a", "b", "c"], ["z"]):
        staging = new_staging_dir(output, RUN_DATE)
        write_partition(_scores(customers), "scores", SCORES, staging, RUN_DATE)
        publish(staging, output, RUN_DATE)
    assert pl.read_parquet(output / "scores")["customer_id"].to_list() == ["z"]
    assert list((output / "scores" / "run_date=2026-03-31").iterdir()) == [
        output / "scores" / "run_date=2026-03-31" / "part-0.parquet"
    ]
    assert not (output / "_staging").exists()
