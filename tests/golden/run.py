"""Golden outputs: a seeded demo run over two days whose Parquet tables are committed under
`tests/golden/expected/` and compared table by table (schema, metadata and every value) by
`tests/flows/test_golden.py`. A change that moves code must leave them equal.

After a deliberate change of the outputs, regenerate them and review the diff:

    .venv/bin/python -m tests.golden.run
"""

import contextlib
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

EXPECTED = Path(__file__).parent / "expected"
RUN_DATES = (date(2026, 3, 30), date(2026, 3, 31))
CUSTOMERS = 300
DAYS = 60


def golden_run(workdir: Path) -> Path:
    """Score the seeded demo data (with its customers table and the bundled configuration)
    on both RUN_DATES from inside `workdir`, so that the quarantine's `source_file` is the same
    relative path wherever it runs; returns the output directory."""
    from demo.data import write_demo_dataset
    from flows.daily import daily_scoring
    from flows.settings import bundled_config_path, load_config

    config = load_config(bundled_config_path())
    with contextlib.chdir(workdir):
        dataset = write_demo_dataset(
            Path("input"), end_date=RUN_DATES[-1], customers=CUSTOMERS, days=DAYS
        )
        for run_date in RUN_DATES:
            daily_scoring(
                events=str(dataset["events"]),
                config=config,
                run_date=run_date,
                output="output",
                customers=str(dataset["customers"]),
            )
    return workdir / "output"


def parquet_outputs(output: Path) -> dict[str, Path]:
    """Every published Parquet partition, by its path relative to the output."""
    return {
        str(path.relative_to(output)): path
        for path in sorted(output.glob("*/run_date=*/*.parquet"))
        if not path.relative_to(output).parts[0].startswith("_")
    }


def main() -> None:
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory() as workdir, prefect_test_harness(server_startup_timeout=120):
        outputs = parquet_outputs(golden_run(Path(workdir)))
        shutil.rmtree(EXPECTED, ignore_errors=True)
        for relative, path in outputs.items():
            target = EXPECTED / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    print(f"{len(outputs)} golden tables written to {EXPECTED}", file=sys.stderr)


if __name__ == "__main__":
    main()
