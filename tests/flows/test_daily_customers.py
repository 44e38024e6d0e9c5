"""Which customers table a daily run uses: its parameter, else its source's `customers`, else
ENGAGE_CUSTOMERS; a table the configured rules cannot use stops the run before it reads."""

from datetime import date
from pathlib import Path

import pytest

from flows.daily_modes import daily_run
from flows.settings import bundled_config_path, load_config
from scoring.config import ScoringConfig
from tasks.extract.customers import CustomersInputError
from tasks.extract.sources.config import FileSourceConfig

RUN_DATE = date(2026, 3, 31)
NO_RULES = ScoringConfig.model_validate({"weights": {"login": 1}})


def table(path: Path, header: str = "customer_id,plan") -> str:
    path.write_text(f"{header}\n")
    return str(path)


def test_parameter_then_source_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given, from_source, from_env = (
        table(tmp_path / name) for name in ("given.csv", "source.csv", "env.csv")
    )
    monkeypatch.setenv("ENGAGE_CUSTOMERS", from_env)
    source = FileSourceConfig(name="s", path=str(tmp_path / "*.csv"), customers=from_source)
    output = str(tmp_path / "out")

    def customers_of(customers: str | None, source: FileSourceConfig | None) -> str | None:
        events = None if source else "events.csv"
        return daily_run(RUN_DATE, events, NO_RULES, output, customers, source).customers

    assert customers_of(given, source) == given
    assert customers_of(None, source) == from_source
    assert customers_of(None, None) == from_env
    monkeypatch.delenv("ENGAGE_CUSTOMERS")
    assert customers_of(None, None) is None


def test_a_table_without_the_plan_the_bundled_rules_need_is_refused(tmp_path: Path) -> None:
    customers = table(tmp_path / "customers.csv", "customer_id,account_owner")
    with pytest.raises(CustomersInputError, match=r"no column 'plan', needed by the follow-up"):
        daily_run(
            RUN_DATE,
            "events.csv",
            load_config(bundled_config_path()),
            str(tmp_path / "out"),
            customers,
            None,
        )
    assert not (tmp_path / "out").exists()  # refused before anything was staged
