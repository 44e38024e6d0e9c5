"""The configuration's optional `backtest` section: how `engage backtest` labels churn and
which configurations it tries."""

from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)


class BacktestSettings(BaseModel):
    """How `engage backtest` labels churn and which configurations it tries (optional section
    `backtest`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    churn_event_types: tuple[str, ...] = Field(
        (),
        description="event types that mean churn when they occur in the horizon "
        "(e.g. subscription_cancelled); silence over the horizon is churn too",
    )
    window_days_grid: tuple[int, ...] = Field(
        (7, 14, 30, 60, 90),
        description="scoring windows tried (the configured one is always tried too)",
    )
    half_life_days_grid: tuple[float, ...] = Field(
        (1.0, 2.0, 4.0, 7.0, 14.0, 30.0),
        description="decay half-lives tried besides none (and the configured one)",
    )
    min_churners: int = Field(
        30, ge=1, description="fewer churned observations in a period than this: a warning"
    )

    @model_validator(mode="after")
    def _grids(self) -> Self:
        if any(not 1 <= days <= 3660 for days in self.window_days_grid):
            raise ValueError(f"window_days_grid: days must be 1-3660, got {self.window_days_grid}")
        if any(not days > 0 for days in self.half_life_days_grid):
            raise ValueError(
                f"half_life_days_grid: must be positive, got {self.half_life_days_grid}"
            )
        return self

    @model_serializer(mode="wrap")
    def _omit_default_grids(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # added after the first release: existing sections dump (and hash) exactly as before
        dumped: dict[str, Any] = handler(self)
        for name in ("window_days_grid", "half_life_days_grid", "min_churners"):
            if getattr(self, name) == type(self).model_fields[name].default:
                dumped.pop(name, None)
        return dumped
