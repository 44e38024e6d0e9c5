"""Tiny event frames for the metric tests."""

from datetime import date
from itertools import count
from typing import Any

import polars as pl

from scoring.config import MetricsConfig, ScoringConfig
from scoring.events import typed_properties
from scoring.metrics.panel import MetricPanel, metric_panel, segment_metrics

RUN_DATE = date(2026, 3, 31)  # window (30 days): 2026-03-02 .. 2026-03-31
_ids = count(1)


def ev(customer: str, event_type: str, at: str, **properties: Any) -> dict[str, Any]:
    """One event; `at` is ISO text (UTC), properties are optional columns."""
    return {
        "event_id": f"e{next(_ids):05d}",
        "customer_id": customer,
        "event_type": event_type,
        "occurred_at": at,
        **properties,
    }


def events(*rows: dict[str, Any]) -> pl.LazyFrame:
    """Typed events from ev() rows."""
    frame = pl.DataFrame(list(rows), infer_schema_length=None).with_columns(
        pl.col("occurred_at").str.to_datetime(time_zone="UTC", time_unit="us")
    )
    return typed_properties(frame.lazy())


def config(**metrics: Any) -> ScoringConfig:
    """A config with simple weights (login 1, feature_used 2, purchase 5, cancellation -40)."""
    return ScoringConfig(
        weights={"login": 1, "feature_used": 2, "purchase": 5, "subscription_cancelled": -40},
        metrics=MetricsConfig(**metrics),
    )


def customer_rows(
    frame: pl.LazyFrame, cfg: ScoringConfig | None = None, customers: pl.DataFrame | None = None
) -> dict[str, dict[str, Any]]:
    """customer_id -> its panel row."""
    panel = metric_panel(
        frame, cfg or config(), RUN_DATE, customers.lazy() if customers is not None else None
    )
    return {row["customer_id"]: row for row in panel.customers.collect().to_dicts()}


def segment_table(
    frame: pl.LazyFrame, cfg: ScoringConfig | None = None, customers: pl.DataFrame | None = None
) -> pl.DataFrame:
    cfg = cfg or config()
    panel = metric_panel(frame, cfg, RUN_DATE, customers.lazy() if customers is not None else None)
    collected = MetricPanel(
        panel.customers.collect().lazy(), panel.pages, panel.feature_users, panel.segments
    )
    return segment_metrics(collected, cfg).collect()


def segment_value(
    table: pl.DataFrame,
    metric: str,
    segment: str = "all",
    value: str = "all",
    detail: str | None = None,
) -> float | None:
    rows = table.filter(
        pl.col("segment") == segment,
        pl.col("segment_value") == value,
        pl.col("metric") == metric,
        pl.col("detail").is_null() if detail is None else pl.col("detail") == detail,
    )
    assert rows.height == 1, (metric, segment, value, detail, rows)
    return rows["value"][0]
