"""The optional `validation` section of the scoring configuration."""

import pytest
from pydantic import ValidationError

from scoring.config import NumericRange, RowCountBand, ScoringConfig, ValidationRules


def test_defaults_when_the_section_is_absent() -> None:
    rules = ScoringConfig(weights={"login": 1}).validation_rules
    assert rules.error_budget == 0.01
    assert rules.future_tolerance_hours == 24
    assert rules.lookback_days == 3660
    assert rules.ranges["nps_response"]["value"] == NumericRange(min=0, max=10)
    assert rules.ranges["csat_response"]["value"] == NumericRange(min=1, max=5)
    assert rules.row_count == RowCountBand()


def test_the_catalogue_is_the_weighted_types_and_the_listed_ones() -> None:
    config = ScoringConfig(
        weights={"login": 1}, validation=ValidationRules(event_types=["email_open"])
    )
    assert config.event_catalogue == frozenset({"login", "email_open"})


def test_a_yaml_like_section_validates() -> None:
    config = ScoringConfig.model_validate(
        {
            "window_days": 7,
            "validation": {
                "error_budget": 0.05,
                "ranges": {"nps_response": {"value": {"min": 0, "max": 10}}},
                "row_count": None,
            },
        }
    )
    assert config.validation_rules.error_budget == 0.05
    assert config.validation_rules.row_count is None
    assert list(config.validation_rules.ranges) == ["nps_response"]  # replaces the defaults


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"error_budget": 1.5}, "less than or equal to 1"),
        ({"ranges": {"nps_response": {"value": {"min": 10, "max": 0}}}}, "min 10.0 is above max"),
        ({"ranges": {"x": {"value": {"max": float("nan")}}}}, "finite number"),
        ({"row_count": {"min_ratio": 2, "max_ratio": 1}}, "max_ratio 1.0 is below min_ratio"),
        ({"lookback_days": 7}, r"lookback_days \(7\) must cover window_days \(30\)"),
        ({"budget": 0.1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_sections_are_rejected(section: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ScoringConfig.model_validate({"validation": section})
