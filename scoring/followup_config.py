"""Follow-up configuration: named at-risk / upsell-ready rules, cool-down, precedence, priority
(customer value), capacity, routing and delivery.

Each rule has a name, a kind, one condition (`when`, chosen by its `condition` field) and a
human reason text. The reason may quote evidence numbers with `{placeholders}` (see
REASON_FIELDS), e.g. "score dropped {score_drop} points to {score}".
"""

import string
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from scoring.schema import TIERS
from scoring.secret_names import EnvironmentVariableName

FlagKind = Literal["at_risk", "upsell_ready"]
FLAG_KINDS: tuple[FlagKind, ...] = ("at_risk", "upsell_ready")

REASON_FIELDS: frozenset[str] = frozenset(
    {
        "score",
        "tier",
        "previous_score",
        "previous_tier",
        "score_delta",
        "score_drop",
        "score_delta_pct",
        "score_drop_pct",
        "days_inactive",
        "nps_response",
        "effort_score",
        "features_used",
        "feature_adoption_pct",
        "plan",
        "usage",
        "usage_limit",
    }
)
"""The evidence a reason text may quote as `{name}`."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _known_tiers(tiers: tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(tiers) - set(TIERS))
    if unknown or not tiers:
        raise ValueError(f"tiers must be a non-empty list of {list(TIERS)}, got {list(tiers)}")
    return tiers


class TierIs(_Frozen):
    """Fires when the customer's tier is one of `tiers` (e.g. churn_risk, power_user)."""

    condition: Literal["tier"]
    tiers: tuple[str, ...]

    @model_validator(mode="after")
    def _tiers(self) -> Self:
        _known_tiers(self.tiers)
        return self


class ScoreDrop(_Frozen):
    """Fires when the score fell by at least `points`, or by at least `percent` % of |previous
    score|, versus the previous run (or the run `days_ago` days before, e.g. 30 for the previous
    window). Needs that run: a customer absent from it never fires."""

    condition: Literal["score_drop"]
    points: float | None = Field(None, gt=0)
    percent: float | None = Field(None, gt=0)
    days_ago: int | None = Field(None, ge=1, le=3660, description="null = the previous run")

    @model_validator(mode="after")
    def _threshold(self) -> Self:
        if self.points is None and self.percent is None:
            raise ValueError("score_drop needs `points`, `percent` or both")
        return self


class Inactive(_Frozen):
    """Fires when the last event is at least `days` whole days before the run date."""

    condition: Literal["inactive"]
    days: int = Field(ge=1)


class TierFell(_Frozen):
    """Fires when the tier is at least `steps` tiers lower than at the previous run (or the run
    `days_ago` days before)."""

    condition: Literal["tier_fell"]
    steps: int = Field(1, ge=1)
    days_ago: int | None = Field(None, ge=1, le=3660, description="null = the previous run")


class NpsDetractor(_Frozen):
    """Fires when the latest NPS answer (0-10) is at most `max_nps` (6: a detractor)."""

    condition: Literal["nps_detractor"]
    max_nps: float = Field(6, ge=0, le=10)


class PoorEffort(_Frozen):
    """Fires when the mean effort answer is at least `min_effort_score` (lower is better)."""

    condition: Literal["poor_effort"]
    min_effort_score: float = Field(gt=0)


class ProductQualifiedLead(_Frozen):
    """Fires for a customer on one of `plans` (e.g. trial, free) whose tier is in `tiers`."""

    condition: Literal["product_qualified_lead"]
    plans: tuple[str, ...] = ("trial", "free")
    tiers: tuple[str, ...] = ("highly_engaged", "power_user")

    @model_validator(mode="after")
    def _tiers(self) -> Self:
        _known_tiers(self.tiers)
        if not self.plans:
            raise ValueError("product_qualified_lead needs at least one plan")
        return self


class PromoterAdoption(_Frozen):
    """Fires for a promoter (latest NPS >= `min_nps`) with broad feature adoption: at least
    `min_features_used` distinct features and at least `min_feature_adoption_pct` % (each
    threshold that is set must hold)."""

    condition: Literal["promoter_adoption"]
    min_nps: float = Field(9, ge=0, le=10)
    min_features_used: int | None = Field(None, ge=1)
    min_feature_adoption_pct: float | None = Field(None, gt=0, le=100)

    @model_validator(mode="after")
    def _adoption(self) -> Self:
        if self.min_features_used is None and self.min_feature_adoption_pct is None:
            raise ValueError(
                "promoter_adoption needs `min_features_used`, `min_feature_adoption_pct` or both"
            )
        return self


class UsageNearLimit(_Frozen):
    """Fires when the window's count of `event_type` reaches `share` of the customer's plan
    limit (`limits`: plan -> allowed count per window). Plans without a limit never fire."""

    condition: Literal["usage_near_limit"]
    event_type: str = Field(min_length=1)
    limits: dict[str, float]
    share: float = Field(0.8, gt=0, le=1)

    @model_validator(mode="after")
    def _limits(self) -> Self:
        if not self.limits or any(not limit > 0 for limit in self.limits.values()):
            raise ValueError("usage_near_limit needs `limits`: plan -> a positive count")
        return self


Condition = Annotated[
    TierIs
    | ScoreDrop
    | Inactive
    | TierFell
    | NpsDetractor
    | PoorEffort
    | ProductQualifiedLead
    | PromoterAdoption
    | UsageNearLimit,
    Field(discriminator="condition"),
]


class FollowupRule(_Frozen):
    """A named rule: when `when` holds for a customer, flag them as `kind` with `reason`."""

    name: str = Field(pattern=r"^[a-z0-9_]+$", description="unique, snake_case")
    kind: FlagKind
    when: Condition
    reason: str = Field(min_length=1, description="human text; may quote {evidence}")

    @model_validator(mode="after")
    def _placeholders(self) -> Self:
        fields = {field for _, field, _, _ in string.Formatter().parse(self.reason) if field}
        unknown = sorted(fields - REASON_FIELDS)
        if unknown:
            raise ValueError(
                f"rule {self.name}: reason quotes unknown evidence {unknown}; "
                f"use any of {sorted(REASON_FIELDS)}"
            )
        return self


MASKED_SECRET = "**********"
"""What a SecretStr is dumped as (pydantic): a configuration read back from a manifest holds
this in place of its webhook_url."""


class DeliveryConfig(_Frozen):
    """Where the follow-up flow delivers a run's actions."""

    # a secret URL put where the name of its variable belongs must not be quoted back
    model_config = ConfigDict(
        frozen=True, extra="forbid", allow_inf_nan=False, hide_input_in_errors=True
    )

    # a secret (a Slack-style URL holds its token in the path): shown and dumped as
    # MASKED_SECRET, so no manifest, log or Prefect parameter holds it
    webhook_url: SecretStr | None = Field(None, description="JSON webhook; null = webhook_url_env")
    webhook_url_env: EnvironmentVariableName = Field(
        "ENGAGE_WEBHOOK_URL", description="environment variable read when webhook_url is null"
    )
    # bounded: a retry's delay (backoff x 2^attempt) and a request's wait stay numbers a
    # sleep and an HTTP client take
    retries: int = Field(3, ge=0, le=100, description="retries after a failed POST")
    backoff_seconds: float = Field(
        1.0, ge=0, le=3600, description="first retry delay, doubled each time"
    )
    timeout_seconds: float = Field(10.0, gt=0, le=3600)
    drop_dir: str | None = Field(None, description="CRM import drop; null = <output>/crm_drop")
    drop_formats: tuple[Literal["csv", "parquet"], ...] = ("csv", "parquet")

    @model_validator(mode="after")
    def _no_password_in_the_url(self) -> Self:
        # the configuration is kept in every run's manifest (the message must not quote it)
        if self.webhook_url and urlsplit(self.webhook_url.get_secret_value()).password:
            raise ValueError(
                "webhook_url holds a password (user:password@host): put the URL in the "
                "environment variable named by webhook_url_env instead"
            )
        return self


class Capacity(_Frozen):
    """The most NEW flags delivered per kind and run: overall and per account owner (null:
    unlimited). Flags over capacity wait as `queued` and are offered again, in priority order,
    at every later run until delivered or resolved. Flags without an owner count against
    `per_run` only."""

    per_run: int | None = Field(40, ge=0, description="new flags per kind per run; null = all")
    per_owner: int | None = Field(
        8, ge=0, description="new flags per kind per run and account owner; null = all"
    )


class CustomerValue(_Frozen):
    """Where a customer's value (for the priority) comes from: a numeric column of the
    customers table, else a value per plan; a customer with neither counts 1 (neutral)."""

    column: str | None = Field("arr", description="numeric customers column, e.g. arr or mrr")
    plan_values: dict[str, float] = Field(
        default_factory=dict, description="plan -> value, used where the column has none"
    )

    @model_validator(mode="after")
    def _non_negative(self) -> Self:
        if any(not value >= 0 for value in self.plan_values.values()):
            raise ValueError("plan_values must be numbers >= 0")
        return self


class Routing(_Frozen):
    """Customers-table columns that route a flag to a person (null where the table lacks them)."""

    owner_column: str = Field("account_owner", min_length=1)
    name_column: str = Field("name", min_length=1)


class FollowupsConfig(_Frozen):
    """The follow-up rules, one flag per customer, priority, capacity and delivery.

    A customer flagged for a rule stays flagged (not re-flagged) while the rule holds; the
    flag resolves on the first run it does not hold. The rule flags the customer again only
    once it has not held for more than `cooldown_days` days. A customer whose rules of several
    kinds hold gets one flag, of the first kind in `precedence`; the others are its context.
    """

    precedence: tuple[FlagKind, ...] = Field(
        ("at_risk", "upsell_ready"), description="one flag per customer: the first kind that holds"
    )
    capacity: Capacity = Capacity()
    deliver_baseline: bool = Field(
        False, description="a run with no previous history delivers up to the capacity (else none)"
    )
    value: CustomerValue = CustomerValue()
    routing: Routing = Routing()
    call_list_size: int = Field(25, ge=1, le=500, description="rows of the run report's call list")
    cooldown_days: int = Field(7, ge=0)
    rules: tuple[FollowupRule, ...] = ()
    delivery: DeliveryConfig = DeliveryConfig()

    @model_validator(mode="after")
    def _every_kind_once(self) -> Self:
        if sorted(self.precedence) != sorted(FLAG_KINDS):
            raise ValueError(
                f"precedence must list each of {list(FLAG_KINDS)} once, got {list(self.precedence)}"
            )
        return self

    def customer_columns_needed(self) -> dict[str, list[str]]:
        """Columns of the customers table the rules read -> the rules that need them (plan:
        product_qualified_lead and usage_near_limit rules)."""
        plan_rules = [
            rule.name
            for rule in self.rules
            if isinstance(rule.when, ProductQualifiedLead | UsageNearLimit)
        ]
        return {"plan": plan_rules} if plan_rules else {}

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        names = [rule.name for rule in self.rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"follow-up rule names must be unique: {duplicates} repeated")
        return self
