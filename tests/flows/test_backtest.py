"""`engage backtest` end to end on the planted demo data and on cohort-shaped data with outside
labels (one Prefect run each), and its errors: the configuration's validation section is
honoured, expected errors exit 2 / 3 with one line and no traceback."""

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from demo.cohorts import cohort_dataset
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


def _everything_printed(result: object, capfd: pytest.CaptureFixture[str]) -> str:
    """The command's output and whatever reached the process's stdout / stderr (Prefect's
    console handler writes to the real stderr, not to the runner's)."""
    captured = capfd.readouterr()
    return result.output + captured.out + captured.err  # type: ignore[attr-defined]


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
    for heading in ("ROC AUC", "candidates, inner validation AUC", "per tier, test dates"):
        assert heading in result.output
    assert "follow-up rules, test dates" in result.output and "any at_risk rule" in result.output
    assert str(output / "backtest" / "report.html") in result.output.replace("\n", "")

    tables = output / "backtest"
    for name in (
        "observations",
        "auc",
        "tiers",
        "roc",
        "weights",
        "candidates",
        "rule_evidence",
        "segment_auc",
        "segment_tiers",
    ):
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
    assert suggested.tiers is not None  # suggested boundaries
    assert f"suggested:             {reported['suggested']:.4f}" in text
    report = (tables / "report.html").read_text()
    for section in ("Candidates", "Tier boundaries", "Warnings", "Follow-up rules", "Segments"):
        assert section in report, section
    assert "suggested_config.yaml" in report


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
    missing = runner.invoke(
        app,
        _arguments(
            dataset,
            config,
            tmp_path,
            "--from",
            "2026-01-01",
            "--to",
            "2026-03-01",
            "--labels",
            str(tmp_path / "nope.csv"),
        ),
    )
    assert missing.exit_code == 2
    assert "labels file not found" in missing.output


def _engage(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The real `engage` command in a child process (its console is Prefect's), on the test
    session's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    environment = os.environ | {"PREFECT_API_URL": str(PREFECT_API_URL.value())}
    command = Path(sys.executable).parent / "engage"
    return subprocess.run(
        [str(command), *arguments], capture_output=True, text=True, env=environment, timeout=900
    )


def test_expected_errors_print_one_line_and_no_traceback(
    prefect_api: str, dataset: dict, refunds: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(bundled_config_path(), config)
    # a range outside the data: exit 2; refunds against the default amount range: exit 3
    for events, first, last, code, message in (
        (dataset, "2030-01-01", "2030-03-31", 2, "error: cannot split 0 usable observation"),
        ({"events": refunds}, "2026-03-20", "2026-03-31", 3, "data-quality gate: data-quality"),
    ):
        output = tmp_path / str(code)
        result = _engage(*_arguments(events, config, output, "--from", first, "--to", last))
        assert result.returncode == code, result.stderr
        assert result.stderr.startswith(message), result.stderr
        assert "Traceback" not in result.stderr and "Finished in state" not in result.stderr


@pytest.fixture(scope="module")
def refunds(dataset: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo events with a negative amount (a refund) on 5 % of the rows: outside the
    default `amount >= 0` range, over the 1 % error budget."""
    events = pl.read_csv(dataset["events"], infer_schema=False)
    flagged = pl.int_range(pl.len()) % 20 == 0
    refunded = events.with_columns(
        pl.when(flagged).then(pl.lit("-5.0")).otherwise(pl.col("amount")).alias("amount")
    )
    path = tmp_path_factory.mktemp("refunds") / "events.csv"
    refunded.write_csv(path)
    return path


def test_the_validation_section_is_honoured_and_the_gate_exits_3(
    prefect_api: str, refunds: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # the bundled validation section keeps the default ranges: refunds fail the gate
    bundled = tmp_path / "config.yaml"
    shutil.copy(bundled_config_path(), bundled)
    events = {"events": refunds}
    capfd.readouterr()
    gate = runner.invoke(
        app,
        _arguments(events, bundled, tmp_path / "a", "--from", "2026-03-20", "--to", "2026-03-31"),
    )
    printed = _everything_printed(gate, capfd)
    assert gate.exit_code == 3, gate.output
    assert "data-quality gate:" in gate.output and "amount is below 0" in gate.output
    assert "Traceback" not in printed and "Finished in state Failed" not in printed

    # a configuration allowing refunds: validation passes as in `engage run`, and the range
    # (too short to split) is what stops the run
    document = yaml.safe_load(bundled_config_path().read_text())
    document["validation"]["ranges"] = {"*": {"amount": {"min": -100}}}
    allowing = tmp_path / "refunds.yaml"
    allowing.write_text(yaml.safe_dump(document))
    passed = runner.invoke(
        app,
        _arguments(events, allowing, tmp_path / "b", "--from", "2026-03-20", "--to", "2026-03-31"),
    )
    assert passed.exit_code == 2, passed.output
    assert "cannot split" in passed.output and "data-quality gate" not in passed.output


def test_outside_labels_and_observation_ends_through_the_cli(
    prefect_api: str, tmp_path: Path
) -> None:
    data = cohort_dataset(seed=4, cohorts=8, customers_per_cohort=120)
    events, customers, labels = (
        tmp_path / n for n in ("events.csv", "customers.csv", "labels.csv")
    )
    data.events.write_csv(events)
    data.customers.write_csv(customers)
    data.labels.write_csv(labels)
    config = tmp_path / "config.yaml"
    config.write_text("weights: {navigate: 3, access: 2, video: 1, problem: 1, help: 0.5}\n")
    first, last = data.labels["observation_date"].min(), data.labels["observation_date"].max()
    result = runner.invoke(
        app,
        _arguments(
            {"events": events},
            config,
            tmp_path / "out",
            "--from",
            str(first),
            "--to",
            str(last),
            "--horizon",
            "14",
            "--labels",
            str(labels),
            "--customers",
            str(customers),
        ),
    )
    assert result.exit_code == 0, result.output
    assert f"labels: {labels}" in result.output.replace("\n", "")
    observations = pl.read_parquet(tmp_path / "out" / "backtest" / "observations.parquet")
    # every labelled observation of the range is scored, each label as given
    expected = data.labels.with_columns(pl.col("churned").cast(pl.Boolean))
    current = observations.filter(pl.col("weights") == "current").select(
        "customer_id", "observation_date", "churned"
    )
    assert current.sort("observation_date", "customer_id").equals(
        expected.select(current.columns).sort("observation_date", "customer_id")
    )
    text = (tmp_path / "out" / "suggested_config.yaml").read_text()
    assert f"# Churn labels: outside labels from {labels}." in text


def test_expected_errors_leave_no_console_record_unexpected_ones_do(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The console filter of `_exit_on`, on the records Prefect writes for a failed task and
    flow (a subclass of an expected kind counts; other errors keep their traceback)."""
    import io
    import logging

    import typer

    from flows.terminal import exit_on as _exit_on
    from tasks.backtest.inputs import BacktestInputError
    from tasks.extract.customers import CustomersInputError
    from tasks.extract.files import EventInputError

    stream = io.StringIO()
    console = logging.StreamHandler(stream)
    logging.getLogger().addHandler(console)
    logger = logging.getLogger("engage.test_console")
    try:
        for error in (BacktestInputError("range"), CustomersInputError("customers")):
            with (
                pytest.raises(typer.Exit) as stopped,
                _exit_on(EventInputError, BacktestInputError),
            ):
                try:
                    raise error
                except Exception as caught:
                    logger.error("Task run failed with exception: %r", caught, exc_info=True)
                    logger.error(
                        "Finished in state Failed('Task run encountered an exception "
                        f"{type(caught).__name__}: {caught}')"
                    )
                    raise
            assert stopped.value.exit_code == 2
        assert stream.getvalue() == ""
        with pytest.raises(KeyError), _exit_on(BacktestInputError):
            try:
                raise KeyError("unexpected")
            except KeyError:
                logger.error("Task run failed with exception", exc_info=True)
                raise
        assert "Traceback" in stream.getvalue()
    finally:
        logging.getLogger().removeHandler(console)
