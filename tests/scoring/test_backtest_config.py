"""The optional `backtest` configuration section."""

import pytest
import yaml
from pydantic import ValidationError

from flows.settings import bundled_config_path
from scoring.backtest_config import BacktestSettings
from scoring.config import ScoringConfig


def test_existing_configs_stay_valid_and_dump_as_before() -> None:
    config = ScoringConfig(weights={"login": 1})
    assert config.backtest_settings == BacktestSettings(churn_event_types=())
    # a null optional section is not written: the dump and hash of old configs are unchanged
    assert "backtest" not in config.model_dump()
    assert "backtest" not in config.model_dump_json()


def test_churn_event_types_round_trip() -> None:
    config = ScoringConfig.model_validate(
        {"weights": {"login": 1}, "backtest": {"churn_event_types": ["subscription_cancelled"]}}
    )
    assert config.backtest_settings.churn_event_types == ("subscription_cancelled",)
    assert config.model_dump(mode="json")["backtest"] == {
        "churn_event_types": ["subscription_cancelled"]
    }
    assert ScoringConfig.model_validate_json(config.model_dump_json()) == config
    assert config.config_hash() != ScoringConfig(weights={"login": 1}).config_hash()


def test_unknown_backtest_keys_are_an_error() -> None:
    with pytest.raises(ValidationError, match=r"backtest\.horizon"):
        ScoringConfig.model_validate({"backtest": {"horizon": 30}})


def test_the_bundled_config_names_the_demo_churn_event() -> None:
    document = yaml.safe_load(bundled_config_path().read_text())
    config = ScoringConfig.model_validate(document)
    assert config.backtest_settings.churn_event_types == ("subscription_cancelled",)
