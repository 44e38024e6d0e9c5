"""ScoringConfig and TierBoundaries: defaults, validation, immutability and config_hash."""

import hashlib
import math
from typing import Any

import pytest
from pydantic import ValidationError

from scoring.config import ScoringConfig, TierBoundaries, canonical_json


def test_defaults_are_the_spec() -> None:
    config = ScoringConfig()
    assert config.window_days == 30
    assert config.half_life_days is None
    assert config.weights == {}
    assert config.tiers is None
    assert config.tier_boundaries == TierBoundaries(
        churn_risk_below=0.0,
        very_disengaged_max=40.0,
        somewhat_engaged_max=70.0,
        highly_engaged_max=100.0,
    )


def test_configured_tiers_are_used() -> None:
    tiers = TierBoundaries(very_disengaged_max=10, somewhat_engaged_max=20, highly_engaged_max=30)
    assert ScoringConfig(tiers=tiers).tier_boundaries == tiers


def test_negative_fractional_and_integer_weights_are_accepted() -> None:
    config = ScoringConfig(weights={"uninstalled": -25, "click": 0.1, "invite": 10})
    assert config.weights == {"uninstalled": -25.0, "click": 0.1, "invite": 10.0}
    assert all(isinstance(weight, float) for weight in config.weights.values())


@pytest.mark.parametrize(
    "values",
    [
        {"unknown": 1},
        {"weight": {"login": 1}},  # a typo of `weights`
        {"tiers": {"churn_risk_below": 0, "power_user_min": 100}},
    ],
)
def test_extra_keys_are_an_error(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=r"[Ee]xtra"):
        ScoringConfig.model_validate(values)


def test_extra_keys_are_an_error_in_tier_boundaries() -> None:
    with pytest.raises(ValidationError, match=r"[Ee]xtra"):
        TierBoundaries.model_validate({"power_user_above": 100})


@pytest.mark.parametrize(
    ("field", "value"),
    [("window_days", 7), ("half_life_days", 3.0), ("weights", {"a": 1.0}), ("tiers", None)],
)
def test_scoring_config_is_frozen(field: str, value: object) -> None:
    config = ScoringConfig(weights={"login": 1})
    with pytest.raises(ValidationError, match=r"[Ff]rozen"):
        setattr(config, field, value)


def test_tier_boundaries_are_frozen() -> None:
    with pytest.raises(ValidationError, match=r"[Ff]rozen"):
        TierBoundaries().very_disengaged_max = 50.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "bounds",
    [
        (0.0, 70.0, 40.0, 100.0),  # out of order
        (0.0, 40.0, 70.0, 60.0),
        (50.0, 40.0, 70.0, 100.0),
        (0.0, 40.0, 40.0, 100.0),  # equal: a tier would be empty
        (0.0, 0.0, 0.0, 0.0),
        (100.0, 70.0, 40.0, 0.0),  # descending
        (math.nan, 40.0, 70.0, 100.0),  # NaN is not ordered
        (0.0, math.nan, 70.0, 100.0),
        (0.0, 40.0, 70.0, math.nan),
    ],
)
def test_tier_boundaries_must_ascend(bounds: tuple[float, float, float, float]) -> None:
    names = (
        "churn_risk_below",
        "very_disengaged_max",
        "somewhat_engaged_max",
        "highly_engaged_max",
    )
    refused = "tier boundaries|finite number"  # NaN: refused as any float setting
    with pytest.raises(ValidationError, match=refused):
        TierBoundaries(**dict(zip(names, bounds, strict=True)))
    with pytest.raises(ValidationError, match=refused):
        ScoringConfig.model_validate({"tiers": dict(zip(names, bounds, strict=True))})


def test_ascending_custom_boundaries_are_accepted() -> None:
    tiers = TierBoundaries(
        churn_risk_below=-10.5,
        very_disengaged_max=-1.0,
        somewhat_engaged_max=0.5,
        highly_engaged_max=1000.0,
    )
    assert tiers.churn_risk_below == -10.5


@pytest.mark.parametrize("weight", [math.nan, math.inf, -math.inf])
def test_weights_must_be_finite(weight: float) -> None:
    with pytest.raises(ValidationError, match="finite"):
        ScoringConfig(weights={"login": 1.0, "bad": weight})


def test_weights_beyond_the_exact_sums_range_are_refused() -> None:
    assert ScoringConfig(weights={"login": 1e15, "churn": -1e15}).weights["login"] == 1e15
    for weight in (1.0000001e15, -1e30):
        with pytest.raises(ValidationError, match=r"weights\.bad: must be within ±1e\+15"):
            ScoringConfig(weights={"login": 1.0, "bad": weight})


@pytest.mark.parametrize(
    "settings",
    [
        {"half_life_days": math.inf},
        {"tiers": {"churn_risk_below": -math.inf}},
        {"validation": {"future_tolerance_hours": math.inf}},
        {"validation": {"row_count": {"max_ratio": math.inf}}},
        {"metrics": {"customer_lifespan_years": math.inf}},
        {"metrics": {"health": {"ticket_penalty": math.inf}}},
        {"metrics": {"health": {"billing_penalties": {"downgrade": math.nan}}}},
        {"metrics": {"health": {"weights": {"engagement": math.inf}}}},
        {"followups": {"value": {"plan_values": {"pro": math.inf}}}},
        {"followups": {"delivery": {"timeout_seconds": math.inf}}},
        {"backtest": {"half_life_days_grid": [1.0, math.inf]}},
    ],
)
def test_no_float_setting_may_be_infinite_or_nan(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="finite number"):
        ScoringConfig.model_validate(settings)


@pytest.mark.parametrize(
    ("settings", "bound"),
    [
        ({"validation": {"lookback_days": 36_501}}, "36500"),
        ({"validation": {"future_tolerance_hours": 876_001}}, "876000"),
        ({"metrics": {"health": {"ticket_penalty": 2e15}}}, "1000000000000000"),
        ({"metrics": {"health": {"billing_penalties": {"downgrade": -2e15}}}}, "-1000000000000000"),
        (
            {
                "followups": {
                    "rules": [
                        {
                            "name": "r",
                            "kind": "at_risk",
                            "reason": "r",
                            "when": {"condition": "score_drop", "points": 1, "days_ago": 3661},
                        }
                    ]
                }
            },
            "3660",
        ),
        ({"followups": {"delivery": {"retries": 10**9}}}, "100"),
        ({"followups": {"delivery": {"backoff_seconds": 1e300}}}, "3600"),
        ({"followups": {"delivery": {"timeout_seconds": 1e300}}}, "3600"),
    ],
)
def test_settings_that_reach_beyond_the_dates_or_sums_a_run_holds_are_refused(
    settings: dict[str, Any], bound: str
) -> None:
    """Each ended a run with an OverflowError or a Decimal conversion error (exit 1)."""
    with pytest.raises(ValidationError, match=bound):
        ScoringConfig.model_validate(settings)


@pytest.mark.parametrize(
    "metrics",
    [
        {"segments": ["plan", "_row"]},
        {"percentile_segment": "_occurred_at_text"},
        {"health": {"segment": "_row"}},
        {"plan_column": "_plan"},
    ],
)
def test_segment_attributes_may_not_name_the_jobs_own_columns(metrics: dict[str, Any]) -> None:
    """`_row` as a segment ended the run with a ColumnNotFoundError traceback (exit 1)."""
    with pytest.raises(ValidationError, match="begins with '_', kept for the job's own columns"):
        ScoringConfig.model_validate({"metrics": metrics})


@pytest.mark.parametrize("name", ["", " ", "\t"])
def test_weight_names_must_not_be_empty(name: str) -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        ScoringConfig(weights={name: 1.0})


@pytest.mark.parametrize("window_days", [0, -1, -30])
def test_window_days_at_least_one(window_days: int) -> None:
    with pytest.raises(ValidationError, match="window_days"):
        ScoringConfig(window_days=window_days)


@pytest.mark.parametrize("window_days", [1, 30, 3660])
def test_window_days_accepted(window_days: int) -> None:
    assert ScoringConfig(window_days=window_days).window_days == window_days


def test_window_days_has_an_upper_bound() -> None:
    with pytest.raises(ValidationError, match="window_days"):
        ScoringConfig(window_days=3661)


def test_window_days_must_be_whole() -> None:
    with pytest.raises(ValidationError, match="window_days"):
        ScoringConfig(window_days=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("half_life_days", [0.0, -1.0, math.nan])
def test_half_life_must_be_positive(half_life_days: float) -> None:
    with pytest.raises(ValidationError, match="half_life_days"):
        ScoringConfig(half_life_days=half_life_days)


def test_half_life_may_be_fractional() -> None:
    assert ScoringConfig(half_life_days=0.5).half_life_days == 0.5


# --- config_hash -----------------------------------------------------------------------------


def test_config_hash_is_sha256_of_the_canonical_json() -> None:
    config = ScoringConfig(window_days=14, weights={"login": 1.0, "invite": 10.0})
    expected_text = (
        '{"half_life_days":null,"tiers":null,'
        '"weights":{"invite":10.0,"login":1.0},"window_days":14}'
    )
    assert canonical_json(config.model_dump(mode="json")) == expected_text
    assert config.config_hash() == hashlib.sha256(expected_text.encode()).hexdigest()


def test_config_hash_golden_value() -> None:
    # a changed value here invalidates every recorded manifest: change it on purpose only
    assert (
        ScoringConfig().config_hash()
        == hashlib.sha256(
            b'{"half_life_days":null,"tiers":null,"weights":{},"window_days":30}'
        ).hexdigest()
    )


def test_equal_configs_have_equal_hashes() -> None:
    first = ScoringConfig(weights={"login": 1, "invite": 10}, half_life_days=7)
    second = ScoringConfig(weights={"invite": 10.0, "login": 1.0}, half_life_days=7.0)
    assert first == second
    assert first.config_hash() == second.config_hash()
    assert first.config_hash() == first.config_hash()


def test_hash_survives_a_round_trip_through_json() -> None:
    config = ScoringConfig(
        window_days=14,
        half_life_days=3.5,
        weights={"login": 1.0, "uninstalled": -20.0},
        tiers=TierBoundaries(very_disengaged_max=10.0),
    )
    again = ScoringConfig.model_validate_json(config.model_dump_json())
    assert again == config
    assert again.config_hash() == config.config_hash()


BASE: dict[str, Any] = {"window_days": 30, "weights": {"login": 1.0, "invite": 10.0}}


@pytest.mark.parametrize(
    "changes",
    [
        {"window_days": 31},
        {"half_life_days": 7.0},
        {"weights": {"login": 1.0, "invite": 10.5}},
        {"weights": {"login": 1.0, "invite": -10.0}},
        {"weights": {"login": 1.0}},
        {"weights": {"login": 1.0, "invites": 10.0}},
        {"weights": {"login": 1.0, "invite": 10.0, "page_view": 0.0}},
        {"tiers": {"very_disengaged_max": 41.0}},
        {"tiers": {"churn_risk_below": -1.0}},
    ],
)
def test_different_configs_have_different_hashes(changes: dict[str, Any]) -> None:
    base = ScoringConfig.model_validate(BASE)
    changed = ScoringConfig.model_validate({**BASE, **changes})
    assert changed != base
    assert changed.config_hash() != base.config_hash()


def test_canonical_json_sorts_keys_and_drops_white_space() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, 2], "c": None}}) == (
        '{"a":{"c":null,"d":[1,2]},"b":1}'
    )
