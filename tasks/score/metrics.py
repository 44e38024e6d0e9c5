"""Metrics: the metric panel (customer_metrics, segment_metrics) on the staged valid events."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.config import ScoringConfig
from scoring.engagement import Window
from scoring.events import typed_properties
from scoring.metrics.panel import (
    MetricPanel,
    customer_metrics,
    metric_panel,
    metric_panel_of_days,
    segment_metrics,
    window_sessions,
)
from scoring.metrics.panel_inputs import (
    CUSTOMER_ID,
    HASHED_CUSTOMER_ID,
    customer_key,
    panel_columns,
    panel_events,
)
from scoring.metrics.retention import app_ties
from scoring.metrics.web import valued_properties
from scoring.schema import CUSTOMER_METRICS, SEGMENT_METRICS, UTC_TIMESTAMP
from tasks.extract.customers import read_customers
from tasks.publish.write import StagedEvents, events_of, write_partition
from tasks.score.daily_aggregates import panel_days_from_store, store_read


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


def ties_before_window(
    totals: pl.LazyFrame, config: ScoringConfig, run_date: date
) -> pl.LazyFrame | None:
    """The app ties (retention.app_ties) of the customer totals before the window, whose events
    the window does not hold; None without any (so nothing before the window is read)."""
    window = Window.ending_on(run_date, config.window_days)
    ties = (
        app_ties(totals)
        .filter(pl.col("app_tie_at") < pl.lit(window.start, dtype=UTC_TIMESTAMP))
        .collect()
    )
    return ties.lazy() if ties.height else None


def read_panel_inputs(
    valid: StagedEvents,
    config: ScoringConfig,
    run_date: date,
    customers: str | None = None,
    totals_path: str | None = None,
) -> tuple[pl.LazyFrame, pl.LazyFrame | None, pl.LazyFrame | None]:
    """The panel's events, customers table and customer totals (see compute_metrics). With the
    totals, the events are those of panel_events, read once into memory."""
    table = read_customers(customers).lazy() if customers else None
    totals = pl.scan_ipc(totals_path, glob=False).collect().lazy() if totals_path else None
    events = panel_events_of(events_of(valid), config, run_date, table, totals)
    return events, table, totals


def panel_events_of(
    scan: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    table: pl.LazyFrame | None,
    totals: pl.LazyFrame | None,
) -> pl.LazyFrame:
    """The valid events (`scan`) the panel reads: the columns it needs, properties typed;
    with the totals, those of panel_events, in memory."""
    columns = panel_columns(
        config,
        scan.collect_schema().names(),
        table.collect_schema().names() if table is not None else (),
    )
    # events from a source's event store may carry properties as text: type them here too
    events = typed_properties(scan.select(columns), only_mistyped=True)
    if totals is None:
        return events
    # the history comes with the totals: read the window's events (and the few others
    # panel_events keeps) once, into memory
    events = panel_events(
        events, config, run_date, table, ties_before_window(totals, config, run_date)
    )
    return events.collect().lazy()


def panel_key(totals: pl.LazyFrame | None) -> pl.Expr:
    """The customer key of the panel's frames: the hashed id when it tells the totals'
    customers apart (customer_key), else the text id."""
    told_apart = totals is not None and customer_key(totals).collect().item()
    return HASHED_CUSTOMER_ID if told_apart else CUSTOMER_ID


def panel_of(
    events: pl.LazyFrame,
    table: pl.LazyFrame | None,
    totals: pl.LazyFrame | None,
    config: ScoringConfig,
    run_date: date,
) -> MetricPanel:
    """The run's metric panel, its frames computed (see scoring.metrics.panel.metric_panel):
    by the hashed customer key when the totals allow it (customer_key). With the totals, the
    events are in memory (read_panel_inputs): the sessions skip the properties without a value
    in them (web.valued_properties)."""
    key = panel_key(totals)
    # computed once: the customers' web counts and the page counts both group them, and a
    # collect_all of both plans does not share the group-by
    valued = valued_properties(events) if totals is not None else None
    sessions = window_sessions(events, config, run_date, key, valued).collect().lazy()
    return materialized(metric_panel(events, config, run_date, table, totals, sessions, key))


def staged_tables(
    panel: MetricPanel, config: ScoringConfig, staging: str, run_date: date
) -> MetricsReport:
    """Compute the customer_metrics and segment_metrics tables of a computed panel and stage
    them. pyarrow's Parquet writer runs on one thread: customer_metrics is written while
    Polars computes segment_metrics."""
    per_customer = customer_metrics(panel.customers).collect()
    with ThreadPoolExecutor(max_workers=1) as writer:
        customer_file = writer.submit(
            write_partition, per_customer, "customer_metrics", CUSTOMER_METRICS, staging, run_date
        )
        per_segment = segment_metrics(panel, config).collect()
        segment_file = write_partition(
            per_segment, "segment_metrics", SEGMENT_METRICS, staging, run_date
        )
        return MetricsReport(
            customers=per_customer.height,
            segment_rows=per_segment.height,
            segments=list(panel.segments),
            customer_metrics_file=str(customer_file.result()),
            segment_metrics_file=str(segment_file),
        )


@task(name="compute-metrics", cache_policy=NO_CACHE, persist_result=False)
def compute_metrics(
    valid: StagedEvents,
    config: ScoringConfig,
    run_date: date,
    staging: str,
    customers: str | None = None,
    totals_path: str | None = None,
) -> MetricsReport:
    """Compute the metric panel for the run date and stage customer_metrics, segment_metrics.

    `totals_path`: the scoring pass's per-customer totals (tasks.score.scores.TOTALS_FILE), with the
    scores; recomputed from the events when not given."""
    events, table, totals = read_panel_inputs(valid, config, run_date, customers, totals_path)
    return staged_tables(
        panel_of(events, table, totals, config, run_date), config, staging, run_date
    )


@task(name="compute-metrics-from-aggregates", cache_policy=NO_CACHE, persist_result=False)
def compute_metrics_from_aggregates(
    output: str,
    config: ScoringConfig,
    run_date: date,
    staging: str,
    totals_path: str,
    customers: str | None = None,
) -> MetricsReport:
    """Compute the metric panel for the run date from the daily aggregate store (an
    incremental run: scoring.metrics.panel_days) and stage customer_metrics, segment_metrics:
    the tables compute_metrics stages from the events. `totals_path`: the scoring step's
    per-customer totals of the days (score_from_aggregates with keep_totals)."""
    table = read_customers(customers).lazy() if customers else None
    totals = pl.scan_ipc(totals_path, glob=False).collect().lazy()
    key = panel_key(totals)
    with store_read(output):
        days = panel_days_from_store(output, config, run_date)
        panel = materialized(metric_panel_of_days(days, config, run_date, table, totals, key))
    return staged_tables(panel, config, staging, run_date)
