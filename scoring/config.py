"""Scoring configuration: frozen pydantic models, also the typed Prefect parameters."""

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from scoring.backtest_config import BacktestSettings
from scoring.followup_config import FollowupsConfig
from scoring.metrics.rates import EXACT_MAGNITUDE


class _Frozen(BaseModel):
    # NaN and inf are refused in every float setting: no setting means infinity, and they
    # overflowed the exact (Decimal) sums deep in a run
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _strictly_ascending(bounds: list[float], what: str) -> None:
    if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
        raise ValueError(f"{what} must be strictly ascending, got {bounds}")


class TierQuantiles(_Frozen):
    """Tiers by rank instead of by score, for scores with no natural scale: each bound is a
    share (0-1) of the run's scored customers. With p = the share of customers scoring
    strictly below a customer: churn_risk when p < churn_risk_below, very_disengaged when
    p < very_disengaged_max, somewhat_engaged when p < somewhat_engaged_max, highly_engaged
    when p < highly_engaged_max, else power_user (equal scores share a tier)."""

    churn_risk_below: float = Field(ge=0, le=1)
    very_disengaged_max: float = Field(ge=0, le=1)
    somewhat_engaged_max: float = Field(ge=0, le=1)
    highly_engaged_max: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ascending(self) -> Self:
        _strictly_ascending(list(self.model_dump().values()), "tier quantiles")
        return self


class TierBoundaries(_Frozen):
    """Tier boundaries on the score s (spec defaults).

    churn_risk: s < churn_risk_below; very_disengaged: up to very_disengaged_max (inclusive);
    somewhat_engaged: up to somewhat_engaged_max; highly_engaged: up to highly_engaged_max;
    power_user: above highly_engaged_max. With `quantiles` set, tiers are by rank in the run's
    scores instead (TierQuantiles) and the four score bounds are not used for tiers.
    """

    churn_risk_below: float = 0.0
    very_disengaged_max: float = 40.0
    somewhat_engaged_max: float = 70.0
    highly_engaged_max: float = 100.0
    quantiles: TierQuantiles | None = Field(
        None, description="tiers by share of the scored customers (0-1); null = by score"
    )

    @model_validator(mode="after")
    def _ascending(self) -> Self:
        bounds = [
            self.churn_risk_below,
            self.very_disengaged_max,
            self.somewhat_engaged_max,
            self.highly_engaged_max,
        ]
        _strictly_ascending(bounds, "tier boundaries")
        return self

    @model_serializer(mode="wrap")
    def _omit_null_quantiles(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # added after the first release: score tiers dump (and hash) exactly as before
        dumped: dict[str, Any] = handler(self)
        if dumped.get("quantiles", False) is None:
            del dumped["quantiles"]
        return dumped


_Section = TypeVar("_Section", bound=BaseModel)

_OMITTED_WHEN_NULL = ("validation", "metrics", "followups", "backtest")
"""Optional sections added after the first release: not dumped while null, so existing
configurations dump (and hash) exactly as before."""


class HealthWeights(_Frozen):
    """Weights of the health-score components (re-normalized over the components present)."""

    engagement: float = Field(0.4, ge=0)
    satisfaction: float = Field(0.3, ge=0)
    support: float = Field(0.15, ge=0)
    billing: float = Field(0.15, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if self.engagement + self.satisfaction + self.support + self.billing <= 0:
            raise ValueError("health weights: at least one weight must be positive")
        return self


class HealthConfig(_Frozen):
    """The customer health score: a weighted mean of four components, each 0-100.

    engagement = clip(score / engagement_full_score x 100, 0, 100);
    satisfaction = mean of the customer's CSAT %, latest NPS answer x 10 and inverted effort
    score (null when the customer answered no survey);
    support = max(0, 100 - ticket_penalty x tickets - escalation_penalty x escalations);
    billing = max(0, 100 - sum of billing_penalties of the billing events in the window).
    Weights may differ per value of the `segment` customer attribute (`segment_weights`).
    """

    weights: HealthWeights = Field(default_factory=HealthWeights)
    segment: str | None = Field(None, description="attribute whose values override weights")
    segment_weights: dict[str, HealthWeights] = Field(default_factory=dict)
    engagement_full_score: float | None = Field(
        None, gt=0, description="score worth 100 engagement; null = tiers.highly_engaged_max"
    )
    ticket_penalty: float = Field(10.0, ge=0, le=EXACT_MAGNITUDE)
    escalation_penalty: float = Field(25.0, ge=0, le=EXACT_MAGNITUDE)
    billing_penalties: dict[
        str, Annotated[float, Field(ge=-EXACT_MAGNITUDE, le=EXACT_MAGNITUDE)]
    ] = Field(
        default_factory=lambda: {"subscription_cancelled": 100.0, "downgrade": 50.0},
        description="event_type -> health points lost per occurrence in the window",
    )

    @model_validator(mode="after")
    def _segment_weights_need_a_segment(self) -> Self:
        if self.segment_weights and self.segment is None:
            raise ValueError("health.segment_weights needs health.segment (the attribute name)")
        return self


class MetricsConfig(_Frozen):
    """The metric vocabulary: which event types (and property columns) feed which metric.

    Defaults match the demo data's event catalogue. Every metric is computed over the scoring
    window unless its field says otherwise.
    """

    nps_event: str = "nps_response"
    csat_event: str = "csat_response"
    csat_scale_max: int = Field(5, ge=2, description="CSAT answers are 1..csat_scale_max")
    csat_satisfied_min: int = Field(4, ge=1, description="answers >= this are satisfied")
    effort_event: str = "effort_response"
    effort_scale: Literal[5, 7] = Field(7, description="effort answers are 1..effort_scale")
    page_view_event: str = "page_view"
    session_start_event: str = "session_start"
    email_open_event: str = "email_open"
    email_click_event: str = "email_click"
    impression_event: str = "impression"
    social_engagement_event: str = "social_engagement"
    purchase_event: str = "purchase"
    conversion_events: tuple[str, ...] = ("purchase",)
    signup_event: str = "signup"
    cancellation_events: tuple[str, ...] = ("subscription_cancelled",)
    app_install_event: str = "app_install"
    app_uninstall_event: str = "app_uninstalled"
    offline_event: str = "event_registration"
    feature_event: str = "feature_used"
    features: tuple[str, ...] | None = Field(
        None, description="the feature catalogue; null = every feature used in the window"
    )
    support_ticket_event: str = "support_ticket"
    escalation_event: str = "support_ticket_escalated"
    active_event_types: tuple[str, ...] | None = Field(
        None, description="events that make a customer active; null = positive weights"
    )
    plan_column: str = "plan"
    paying_plans: tuple[str, ...] = ("starter", "pro", "enterprise")
    clv_lookback_days: int = Field(365, ge=1, le=3660, description="purchases counted for CLV")
    customer_lifespan_years: float = Field(3.0, gt=0)
    first_week_days: int = Field(7, ge=1, le=366)
    segments: tuple[str, ...] = ("plan", "persona", "region", "account_owner", "signup_cohort")
    percentile_segment: str | None = Field(
        "plan", description="attribute whose groups rank score percentiles; null = everyone"
    )
    health: HealthConfig = Field(default_factory=HealthConfig)

    @model_validator(mode="after")
    def _csat_threshold_on_scale(self) -> Self:
        if self.csat_satisfied_min > self.csat_scale_max:
            raise ValueError("csat_satisfied_min must be on the scale (<= csat_scale_max)")
        return self

    @model_validator(mode="after")
    def _attributes_not_the_jobs_own(self) -> Self:
        wanted = (*self.segments, self.percentile_segment, self.health.segment, self.plan_column)
        for name in (name for name in wanted if name is not None):
            if name.startswith("_"):  # _row, _occurred_at_text: the run's own event columns
                raise ValueError(
                    f"segment attribute {name!r} begins with '_', kept for the job's own "
                    "columns: rename the attribute"
                )
        return self


class NumericRange(_Frozen):
    """Inclusive bounds of a numeric event property; an unset bound is open."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
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


MAX_LOOKBACK_DAYS = 36_500
"""The furthest (100 years) a setting may reach back or ahead from a run date: from every run
date of scoring.run_dates.RUN_DATES, every date it reaches is then a date (years 1-9999)."""

MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
"""validation.max_uncompressed_bytes by default: 2 GiB per compressed input file."""


class ValidationRules(_Frozen):
    """The data-quality gate: error budget, time bounds, catalogue, numeric ranges, volume."""

    error_budget: float = Field(
        0.01, ge=0, le=1, description="largest share of quarantined rows before the run fails"
    )
    error_budget_min_rows: int = Field(
        100,
        ge=0,
        description="the budget fails a run only once at least this many rows are quarantined: "
        "a share of a handful of rows says nothing (below it the check only warns)",
    )
    future_tolerance_hours: float = Field(
        24,
        ge=0,
        le=MAX_LOOKBACK_DAYS * 24,
        description="occurred_at may be this far after the validation time",
    )
    lookback_days: int = Field(
        3660,
        ge=1,
        le=MAX_LOOKBACK_DAYS,
        description="occurred_at older than this many days before the run date fails",
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
    max_uncompressed_bytes: int = Field(
        MAX_UNCOMPRESSED_BYTES,
        ge=1,
        description="largest size (bytes) a compressed input file may expand to; a larger one "
        "stops the run naming the file (a compression bomb is never read whole)",
    )
    row_count: RowCountBand | None = Field(
        default_factory=RowCountBand, description="null = no volume check"
    )


class _Effective(Generic[_Section]):
    """A configuration section as a run uses it: the configured one, or the defaults of
    `default` when the section is null (a read-only attribute, like a property)."""

    def __init__(self, section: str, default: Callable[[], _Section]) -> None:
        self.section = section
        self.default = default

    def __get__(self, config: object, owner: type | None = None) -> _Section:
        configured: _Section | None = getattr(config, self.section)
        return configured or self.default()


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
    metrics: MetricsConfig | None = Field(None, description="null = the default vocabulary")
    validation: ValidationRules | None = Field(
        None, description="data-quality gate; null = the defaults of ValidationRules"
    )
    _source_file: str | None = PrivateAttr(None)

    @property
    def source_file(self) -> str | None:
        """The absolute path of the YAML file this configuration was read from (read_from),
        None when it was built otherwise. Not part of the configuration: neither dumped nor
        hashed. The delivery flow reads a webhook_url (a secret no manifest keeps) there."""
        return self._source_file

    def read_from(self, path: str) -> Self:
        """This configuration, noted as read from the file at `path` (source_file)."""
        self._source_file = path
        return self

    @model_validator(mode="after")
    def _finite_weights(self) -> Self:
        for event_type, weight in self.weights.items():
            if not event_type.strip():
                raise ValueError("weights: event type names must not be empty")
            if abs(weight) > EXACT_MAGNITUDE:
                raise ValueError(
                    f"weights.{event_type}: must be within ±{EXACT_MAGNITUDE:g} (the exact sums "
                    f"of contributions overflow beyond), got {weight:g}"
                )
        if self.validation_rules.lookback_days < self.window_days:
            raise ValueError(
                f"validation.lookback_days ({self.validation_rules.lookback_days}) must cover "
                f"window_days ({self.window_days})"
            )
        return self

    @model_serializer(mode="wrap")
    def _omit_null_sections(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        for section in _OMITTED_WHEN_NULL:
            if section in dumped and dumped[section] is None:
                del dumped[section]
        return dumped

    backtest_settings: ClassVar[_Effective[BacktestSettings]] = _Effective(
        "backtest", BacktestSettings
    )
    """The effective backtest settings (configured, or the defaults)."""
    tier_boundaries: ClassVar[_Effective[TierBoundaries]] = _Effective("tiers", TierBoundaries)
    """The effective tier boundaries (configured, or the spec's defaults)."""
    metric_settings: ClassVar[_Effective[MetricsConfig]] = _Effective("metrics", MetricsConfig)
    """The effective metric vocabulary (configured, or the defaults)."""
    validation_rules: ClassVar[_Effective[ValidationRules]] = _Effective(
        "validation", ValidationRules
    )
    """The effective data-quality rules (configured, or the defaults)."""
    followup_settings: ClassVar[_Effective[FollowupsConfig]] = _Effective(
        "followups", FollowupsConfig
    )
    """The effective follow-up rules and delivery (configured, or the defaults: no rules)."""

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
