"""`engage backtest` end to end on the planted demo data (one Prefect run), and its errors."""

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from demo.data import write_demo_dataset
from flows.cli import app
from flows.settings import bundled_config_path
from scoring.config import ScoringConfig

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return write_demo_dataset(
        tmp_path_factory.mktemp("backtest"), end_date=date(2026, 3, 31), customers=400, days=120
    )


def _arguments(dataset: dict, config: Path, output: Path, *extra: str) -> list[str]:
    return [
        "backtest",
        "--events",
        str(dataset["events"]),
        "--config",
        str(config),
        "--output",
        str(output),
        *extra,
    ]


def test_backtest_cli_writes_report_tables_and_suggested_config(
    prefect_api: str, dataset: dict, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(bundled_config_path(), config)
    original = config.read_bytes()
    output = tmp_path / "out"
    result = runner.invoke(
        app,
        _arguments(
            dataset,
            config,
            output,
            "--from",
            "2026-01-01",
            "--to",
            "2026-03-31",
            "--customers",
            str(dataset["customers"]),
        ),
    )
    assert result.exit_code == 0, result.output
    assert config.read_bytes() == original  # never overwritten
    assert "ROC AUC" in result.output and "per tier, test dates" in result.output
    assert str(output / "backtest" / "report.html") in result.output.replace("\n", "")

    tables = output / "backtest"
    for name in ("observations", "auc", "tiers", "roc", "weights", "segment_auc", "segment_tiers"):
        assert pq.read_table(tables / f"{name}.parquet").num_rows > 0, name
    assert not (output / "_staging").exists()

    # the reported out-of-time AUC, recomputed independently from the observations
    auc = pl.read_parquet(tables / "auc.parquet").filter(
        pl.col("observation_date").is_null() & (pl.col("period") == "test")
    )
    observations = pl.read_parquet(tables / "observations.parquet")
    reported = dict(auc.select("weights", "auc").iter_rows())
    for name in ("current", "suggested", "uniform"):
        rows = observations.filter((pl.col("weights") == name) & (pl.col("period") == "test"))
        expected = roc_auc_score(~rows["churned"].to_numpy(), rows["score"].to_numpy())
        assert reported[name] == pytest.approx(expected, abs=1e-12)
        assert f"{reported[name]:.4f}" in result.output
    assert reported["suggested"] > reported["uniform"]

    text = (output / "suggested_config.yaml").read_text()
    suggested = ScoringConfig.model_validate(yaml.safe_load(text))
    assert suggested.weights["integration_added"] > 0
    assert f"suggested weights: {reported['suggested']:.4f}" in text
    report = (tables / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 6
    assert "Segments" in report and "suggested_config.yaml" in report


def test_backtest_cli_errors_exit_2_with_the_fix(dataset: dict, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(bundled_config_path(), config)
    backwards = runner.invoke(
        app, _arguments(dataset, config, tmp_path, "--from", "2026-03-01", "--to", "2026-01-01")
    )
    assert backwards.exit_code == 2
    assert "before --from" in backwards.output

    # the suggested config would land on the user's config: refused before any work
    clash = tmp_path / "clash"
    clash.mkdir()
    shutil.copy(bundled_config_path(), clash / "suggested_config.yaml")
    refused = runner.invoke(
        app,
        _arguments(
            dataset,
            clash / "suggested_config.yaml",
            clash,
            "--from",
            "2026-01-01",
            "--to",
            "2026-03-01",
        ),
    )
    assert refused.exit_code == 2
    assert "would overwrite it" in refused.output


def test_backtest_cli_range_too_short(prefect_api: str, dataset: dict, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(bundled_config_path(), config)
    result = runner.invoke(
        app, _arguments(dataset, config, tmp_path, "--from", "2026-03-20", "--to", "2026-03-31")
    )
    assert result.exit_code == 2
    assert "widen --from/--to" in result.output
