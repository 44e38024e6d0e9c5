"""Metrics: the metric panel (customer_metrics, segment_metrics) on the staged valid events."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.config import ScoringConfig
from scoring.events import typed_properties
from scoring.metrics.panel import (
    MetricPanel,
    customer_metrics,
    metric_panel,
    panel_columns,
    segment_metrics,
)
from scoring.schema import CUSTOMER_METRICS, SEGMENT_METRICS
from tasks.customers import read_customers
from tasks.write import write_partition


@dataclass(frozen=True)
class MetricsReport:
    """What the metric step produced (small: passed between tasks and into the manifest)."""

    customers: int
    segment_rows: int
    segments: list[str]
    customer_metrics_file: str
    segment_metrics_file: str


def materialized(panel: MetricPanel) -> MetricPanel:
    """The panel's frames computed once (segments reuse them for every attribute)."""
    customers, pages, feature_users = pl.collect_all(
        [panel.customers, panel.pages, panel.feature_users]
    )
    return MetricPanel(customers.lazy(), pages.lazy(), feature_users.lazy(), panel.segments)


@task(name="compute-metrics", cache_policy=NO_CACHE, persist_result=False)
def compute_metrics(
    valid_path: str,
    config: ScoringConfig,
    run_date: date,
    staging: str,
    customers: str | None = None,
    scores_path: str | None = None,
) -> MetricsReport:
    """Compute the metric panel for the run date and stage customer_metrics, segment_metrics.

    `scores_path`: the run's staged scores (recomputed when not given)."""
    # read once: the panel's many small queries are faster in memory than each from the file
    columns = panel_columns(config, pl.scan_parquet(valid_path).collect_schema().names())
    # events from a source's event store may carry properties as text: type them here too
    events = typed_properties(pl.read_parquet(valid_path, columns=columns).lazy())
    table = read_customers(customers).lazy() if customers else None
    scores = pl.scan_parquet(scores_path) if scores_path else None
    panel = materialized(metric_panel(events, config, run_date, table, scores))
    per_customer, per_segment = pl.collect_all(
        [customer_metrics(panel.customers), segment_metrics(panel, config)]
    )
    customer_file = write_partition(
        per_customer, "customer_metrics", CUSTOMER_METRICS, staging, run_date
    )
    segment_file = write_partition(
        per_segment, "segment_metrics", SEGMENT_METRICS, staging, run_date
    )
    return MetricsReport(
        customers=per_customer.height,
        segment_rows=per_segment.height,
        segments=list(panel.segments),
        customer_metrics_file=str(Path(customer_file)),
        segment_metrics_file=str(Path(segment_file)),
    )
