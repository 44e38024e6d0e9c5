"""Scoring configuration: frozen pydantic models, also the typed Prefect parameters."""

import hashlib
import json
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


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


class NumericRange(_Frozen):
    """Inclusive bounds of a numeric event property; an unset bound is open."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        for bound in (self.min, self.max):
            if bound is not None and (bound != bound or bound in (float("inf"), float("-inf"))):
                raise ValueError(f"range bounds must be finite numbers, got {bound}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range min {self.min} is above max {self.max}")
        return self


class RowCountBand(_Frozen):
    """Rows read must lie within [min_ratio, max_ratio] x the median of recent runs' rows read.

    Applies once at least `min_history` earlier runs (manifests under <output>/runs/) exist;
    the `recent_runs` latest run dates before the run date are used.
    """

    recent_runs: int = Field(7, ge=1, le=366)
    min_history: int = Field(3, ge=1, le=366)
    min_ratio: float = Field(0.5, ge=0)
    max_ratio: float | None = Field(3.0, gt=0, description="null = no upper bound")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_ratio is not None and self.max_ratio < self.min_ratio:
            raise ValueError(f"max_ratio {self.max_ratio} is below min_ratio {self.min_ratio}")
        return self


def _default_ranges() -> dict[str, dict[str, NumericRange]]:
    return {
        "nps_response": {"value": NumericRange(min=0, max=10)},
        "csat_response": {"value": NumericRange(min=1, max=5)},
        "*": {
            "scroll_pct": NumericRange(min=0, max=100),
            "duration_s": NumericRange(min=0),
            "amount": NumericRange(min=0),
        },
    }


class ValidationRules(_Frozen):
    """The data-quality gate: error budget, time bounds, catalogue, numeric ranges, volume."""

    error_budget: float = Field(
        0.01, ge=0, le=1, description="largest share of quarantined rows before the run fails"
    )
    future_tolerance_hours: float = Field(
        24, ge=0, description="occurred_at may be this far after the validation time"
    )
    lookback_days: int = Field(
        3660, ge=1, description="occurred_at older than this many days before the run date fails"
    )
    event_types: list[str] = Field(
        default_factory=list,
        description="known event types besides the weighted ones (unknown types only warn)",
    )
    ranges: dict[str, dict[str, NumericRange]] = Field(
        default_factory=_default_ranges,
        description="event_type ('*' = every type) -> numeric property -> inclusive range",
    )
    max_id_length: int = Field(256, ge=1, description="longest event_id / customer_id accepted")
    row_count: RowCountBand | None = Field(
        default_factory=RowCountBand, description="null = no volume check"
    )


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
    validation: ValidationRules | None = Field(
        None, description="data-quality gate; null = the defaults of ValidationRules"
    )

    @model_validator(mode="after")
    def _finite_weights(self) -> Self:
        for event_type, weight in self.weights.items():
            if not event_type.strip():
                raise ValueError("weights: event type names must not be empty")
            if weight != weight or weight in (float("inf"), float("-inf")):
                raise ValueError(f"weights.{event_type}: must be a finite number, got {weight}")
        if self.validation_rules.lookback_days < self.window_days:
            raise ValueError(
                f"validation.lookback_days ({self.validation_rules.lookback_days}) must cover "
                f"window_days ({self.window_days})"
            )
        return self

    @property
    def tier_boundaries(self) -> TierBoundaries:
        """The effective tier boundaries (configured, or the spec's defaults)."""
        return self.tiers or TierBoundaries()

    @property
    def validation_rules(self) -> ValidationRules:
        """The effective data-quality rules (configured, or the defaults)."""
        return self.validation or ValidationRules()

    @property
    def event_catalogue(self) -> frozenset[str]:
        """Every known event type: the weighted ones and `validation.event_types`."""
        return frozenset(self.weights) | frozenset(self.validation_rules.event_types)

    def config_hash(self) -> str:
        """A stable sha256 of the configuration (keys sorted), recorded in every manifest."""
        return hashlib.sha256(canonical_json(self.model_dump(mode="json")).encode()).hexdigest()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
