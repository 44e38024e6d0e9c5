"""Golden outputs: the seeded two-day demo run publishes exactly the committed tables."""

from pathlib import Path

import pyarrow.parquet as pq

from tests.golden.run import EXPECTED, golden_run, parquet_outputs


def test_seeded_run_publishes_the_golden_tables(prefect_api: str, tmp_path: Path) -> None:
    actual = parquet_outputs(golden_run(tmp_path))
    expected = parquet_outputs(EXPECTED)

    assert sorted(actual) == sorted(expected)
    for relative, path in expected.items():
        golden, published = pq.read_table(path), pq.read_table(actual[relative])
        assert published.schema.equals(golden.schema, check_metadata=True), relative
        assert published.equals(golden), relative
