"""The metric panel: every metric per customer (customer_metrics) and per segment
(segment_metrics), assembled from the concept modules.

Each customer row carries additive counts (flags are 0/1); a metric is an expression over
those counts (scoring.metrics.panel_metrics), evaluated once per customer and once over the
summed counts of each segment.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date

import polars as pl

from scoring.config import ScoringConfig
from scoring.engagement import Window
from scoring.metrics import adoption, web
from scoring.metrics.customer_panel import KEY, WindowFrames, customer_panel, event_frames
from scoring.metrics.panel_inputs import CUSTOMER_ID, PanelInputs, keyed_window, panel_inputs
from scoring.metrics.panel_metrics import ADDITIVE_COUNTS, Metric, panel_metrics
from scoring.metrics.panel_of_days import PanelDays, day_frames, day_panel_inputs
from scoring.metrics.rates import EXACT_DECIMALS, count_of
from scoring.metrics.segments import ALL, tier_shares
from scoring.schema import CUSTOMER_METRICS, TIERS


def customer_metrics(panel: pl.LazyFrame) -> pl.LazyFrame:
    """The customer_metrics table: the contract's columns of the panel, in order and type."""
    return panel.select(pl.col(column.name).cast(column.dtype) for column in CUSTOMER_METRICS)


@dataclass(frozen=True)
class MetricPanel:
    """The lazy frames of one run's panel: customers (customer_panel), page counts per
    customer and page, feature users (both by the customers' KEY), and the segment attributes
    found."""

    customers: pl.LazyFrame
    pages: pl.LazyFrame
    feature_users: pl.LazyFrame
    segments: tuple[str, ...]


def window_sessions(
    events: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    key: pl.Expr = CUSTOMER_ID,
    valued: Collection[str] | None = None,
) -> pl.LazyFrame:
    """The page sessions (web.page_sessions) of the run's window, by customer `key`;
    `valued`: the property columns holding a value in `events`, when known
    (web.valued_properties)."""
    window = Window.ending_on(run_date, config.window_days)
    return web.page_sessions(keyed_window(events, window, key), config.metric_settings, valued)


def metric_panel(
    events: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    customers: pl.LazyFrame | None = None,
    totals: pl.LazyFrame | None = None,
    sessions: pl.LazyFrame | None = None,
    key: pl.Expr = CUSTOMER_ID,
) -> MetricPanel:
    """The panel of a run (scoring.metrics.customer_panel, from the run's panel_inputs):
    segments are the configured ones found in the customers table, the event columns or
    derived (signup_cohort). `sessions`: the window's page sessions (window_sessions, by the
    same `key`) when already computed, else computed here. `key`: see
    panel_inputs.customer_key; pages and feature users are by that key."""
    inputs, events_read = panel_inputs(events, config, run_date, customers, totals, key)
    if sessions is None:
        sessions = web.page_sessions(events_read.window_events, config.metric_settings)
    return panel_of_frames(inputs, event_frames(inputs, events_read, sessions))


def metric_panel_of_days(
    days: PanelDays,
    config: ScoringConfig,
    run_date: date,
    customers: pl.LazyFrame | None,
    totals: pl.LazyFrame,
    key: pl.Expr = CUSTOMER_ID,
) -> MetricPanel:
    """The panel of a run from its daily aggregates (scoring.metrics.panel_days), equal to
    metric_panel of its events: `totals` are panel_days.customer_totals_of_days."""
    inputs = day_panel_inputs(days, config, run_date, customers, totals, key)
    return panel_of_frames(inputs, day_frames(inputs, days))


def panel_of_frames(inputs: PanelInputs, frames: WindowFrames) -> MetricPanel:
    """The MetricPanel of a run's inputs and window frames: segments are the configured ones
    found (in the customers table, the event columns or derived)."""
    segments = inputs.config.metric_settings.segments
    return MetricPanel(
        customers=customer_panel(inputs, frames),
        pages=frames.pages,
        feature_users=frames.feature_users,
        segments=tuple(s for s in segments if s in inputs.attribute_sources),
    )


SEGMENT_KEY = ("segment", "segment_value")


def by_segment(
    frame: pl.LazyFrame, segments: Iterable[str], keys: Iterable[str], aggregations: list[pl.Expr]
) -> pl.LazyFrame:
    """`frame` (with the customers' segment attribute columns) grouped by each segment
    attribute in turn (`all` first) and `keys`, concatenated: segment, segment_value (the
    attribute's value as text, null when unknown), keys and the aggregations."""
    return pl.concat(
        frame.group_by(
            pl.lit(segment).alias("segment"),
            (pl.lit(ALL) if segment == ALL else pl.col(segment).cast(pl.String)).alias(
                "segment_value"
            ),
            *keys,
        ).agg(aggregations)
        for segment in (ALL, *segments)
    )


def _summed(customers: pl.LazyFrame, segments: tuple[str, ...]) -> pl.LazyFrame:
    """Per segment value: the sum of every additive count over its customers (floats summed
    exactly), the feature catalogue size, the median score and the customers per tier
    (in_<tier>)."""
    schema = customers.collect_schema()
    floats = [n for n in ADDITIVE_COUNTS if schema[n].is_float()]
    # floats as Decimal once per customer, not once per segment (see rates.exact_sum)
    exact = customers.with_columns(pl.col(floats).cast(pl.Decimal(38, EXACT_DECIMALS)))
    sums = by_segment(
        exact,
        segments,
        [],
        [
            *[pl.col(n).sum() for n in ADDITIVE_COUNTS],
            pl.col("feature_catalogue").first(),
            pl.col("score").median().alias("score_median"),
            *[count_of(pl.col("tier") == tier).alias(f"in_{tier}") for tier in TIERS],
        ],
    )
    return sums.with_columns(pl.col(floats).cast(pl.Float64))


def _page_rows(panel: MetricPanel, sizes: pl.LazyFrame) -> pl.LazyFrame:
    """Per segment value and page: page views and exit rate (observations: the views)."""
    pages = panel.pages.join(
        panel.customers.select(KEY, *panel.segments), left_on="customer_id", right_on=KEY
    )
    per_page = by_segment(
        pages, panel.segments, ["page"], [pl.col("views").sum(), pl.col("exits").sum()]
    ).join(sizes, on=SEGMENT_KEY, how="left", nulls_equal=True)
    measures = {
        "page_views": pl.col("views").cast(pl.Float64),
        "exit_rate": web.exit_rate(pl.col("exits"), pl.col("views")),
    }
    return pl.concat(
        per_page.select(
            *SEGMENT_KEY,
            "customers",
            pl.lit(metric).alias("metric"),
            pl.col("page").alias("detail"),
            measure.alias("value"),
            pl.col("views").alias("observations"),
        )
        for metric, measure in measures.items()
    )


def _feature_rows(panel: MetricPanel, sizes: pl.LazyFrame) -> pl.LazyFrame:
    """Per segment value and feature: users among the active customers / active customers."""
    active = panel.customers.filter(pl.col("active") == 1).select(KEY, *panel.segments)
    users = panel.feature_users.join(active, left_on="customer_id", right_on=KEY)
    return (
        by_segment(users, panel.segments, ["feature"], [pl.len().alias("users")])
        .join(sizes, on=SEGMENT_KEY, how="left", nulls_equal=True)
        .select(
            *SEGMENT_KEY,
            "customers",
            pl.lit("feature_adoption").alias("metric"),
            pl.col("feature").alias("detail"),
            adoption.feature_adoption(pl.col("users"), pl.col("active")).alias("value"),
            pl.col("active").alias("observations"),
        )
    )


def _segment_rows(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.select(
        "segment",
        pl.col("segment_value").cast(pl.String),
        "metric",
        pl.col("detail").cast(pl.String),
        pl.col("value").cast(pl.Float64),
        pl.col("observations").cast(pl.Int64),
        pl.col("customers").cast(pl.Int64),
    )


def segment_metrics(panel: MetricPanel, config: ScoringConfig) -> pl.LazyFrame:
    """The segment_metrics table: one row per segment x value x metric (x detail), over the
    whole population (segment `all`) and every segment attribute found.

    Every panel metric is its expression over the summed counts of the segment value's
    customers; plus the median score, tier shares, page views and exit rate per page, and
    adoption per feature."""
    sums = _summed(panel.customers, panel.segments)
    metrics = (
        *panel_metrics(config),
        Metric("score_median", pl.col("score_median"), pl.col("customers")),
    )
    overall = (
        sums.select(
            *SEGMENT_KEY,
            "customers",
            *[
                pl.struct(
                    m.value.cast(pl.Float64).alias("value"),
                    m.observations.cast(pl.Int64).alias("observations"),
                ).alias(m.name)
                for m in metrics
            ],
        )
        .unpivot(index=[*SEGMENT_KEY, "customers"], variable_name="metric", value_name="measure")
        .unnest("measure")
        .with_columns(pl.lit(None, pl.String).alias("detail"))
    )
    sizes = sums.select(*SEGMENT_KEY, "customers", "active")
    parts = (
        overall,
        tier_shares(sums),
        _page_rows(panel, sizes),
        _feature_rows(panel, sizes),
    )
    return pl.concat([_segment_rows(part) for part in parts]).sort(
        "segment", "segment_value", "metric", "detail", nulls_last=True
    )
