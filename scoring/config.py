"""Scoring configuration: frozen pydantic models, also the typed Prefect parameters."""

import hashlib
import json
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from scoring.followup_config import FollowupsConfig


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TierBoundaries(_Frozen):
    """Tier boundaries on the score s (spec defaults).

    churn_risk: s < churn_risk_below; very_disengaged: up to very_disengaged_max (inclusive);
    somewhat_engaged: up to somewhat_engaged_max; highly_engaged: up to highly_engaged_max;
    power_user: above highly_engaged_max.
    """

    churn_risk_below: float = 0.0
    very_disengaged_max: float = 40.0
    somewhat_engaged_max: float = 70.0
    highly_engaged_max: float = 100.0

    @model_validator(mode="after")
    def _ascending(self) -> Self:
        bounds = [
            self.churn_risk_below,
            self.very_disengaged_max,
            self.somewhat_engaged_max,
            self.highly_engaged_max,
        ]
        # NaN compares false both ways, so it would slip through the sorted() check
        if any(bound != bound for bound in bounds):
            raise ValueError(f"tier boundaries must be numbers, got {bounds}")
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise ValueError(f"tier boundaries must be strictly ascending, got {bounds}")
        return self


class BacktestSettings(_Frozen):
    """How `engage backtest` labels churn (optional section `backtest`)."""

    churn_event_types: tuple[str, ...] = Field(
        (),
        description="event types that mean churn when they occur in the horizon "
        "(e.g. subscription_cancelled); silence over the horizon is churn too",
    )


_OMITTED_WHEN_NULL = ("followups", "backtest")
"""Optional sections added after the first release: not dumped while null, so existing
configurations dump (and hash) exactly as before."""


class ScoringConfig(_Frozen):
    """What counts as engagement and how it is scored.

    CES = sum over event types t of weight_t x count_t within the window of `window_days`
    days ending on the run date (inclusive). With `half_life_days` set, each occurrence
    counts 0.5 ** (age_days / half_life_days) instead of 1, age_days being the whole days
    between the event's UTC date and the run date.
    """

    window_days: int = Field(30, ge=1, le=3660, description="days in the window, run date included")
    half_life_days: float | None = Field(
        None, gt=0, description="optional decay half-life in days; null = the exact formula"
    )
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="event_type -> weight; may be negative or fractional",
    )
    tiers: TierBoundaries | None = Field(None, description="null = the spec's defaults")
    followups: FollowupsConfig | None = Field(
        None, description="at-risk / upsell-ready rules and their delivery; null = none"
    )
    backtest: BacktestSettings | None = Field(None, description="null = no churn event types")

    @model_validator(mode="after")
    def _finite_weights(self) -> Self:
        for event_type, weight in self.weights.items():
            if not event_type.strip():
                raise ValueError("weights: event type names must not be empty")
            if weight != weight or weight in (float("inf"), float("-inf")):
                raise ValueError(f"weights.{event_type}: must be a finite number, got {weight}")
        return self

    @model_serializer(mode="wrap")
    def _omit_null_sections(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        for section in _OMITTED_WHEN_NULL:
            if section in dumped and dumped[section] is None:
                del dumped[section]
        return dumped

    @property
    def backtest_settings(self) -> BacktestSettings:
        """The effective backtest settings (configured, or the defaults)."""
        return self.backtest or BacktestSettings()

    @property
    def tier_boundaries(self) -> TierBoundaries:
        """The effective tier boundaries (configured, or the spec's defaults)."""
        return self.tiers or TierBoundaries()

    def config_hash(self) -> str:
        """A stable sha256 of the configuration (keys sorted), recorded in every manifest."""
        return hashlib.sha256(canonical_json(self.model_dump(mode="json")).encode()).hexdigest()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
