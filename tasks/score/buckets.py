"""Scale-out: one Prefect task per customer hash bucket, on whatever task runner the flow has
(a Dask cluster through prefect-dask's DaskTaskRunner; threads by default), then merges.

A bucket's task reads its own raw partition once (tasks.extract.buckets) and runs every step
that is per customer: the row checks (tasks.quality.buckets), the scores and the panel's
totals, and the metric panel's per-customer counts. The merges run over the buckets' small
results what spans customers: the data-quality gate (GX on the suspect rows, the table's
counts), the outputs in customer order, the score percentiles and the feature catalogue, the
segment tables. Every customer falls in exactly one bucket, so the merged outputs are those
of a single-process run, byte for byte.

Tasks exchange paths, never frames: the staging directory must be on storage every worker
can read and write (a shared file system on a real cluster).
"""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.config import ScoringConfig, TierBoundaries
from scoring.engagement import Window, tier_of
from scoring.metrics.customer_panel import KEY, customer_counts, customer_rows, event_frames
from scoring.metrics.panel import MetricPanel, window_sessions
from scoring.metrics.panel_inputs import CUSTOMER_ID, PanelInputs, panel_inputs
from scoring.metrics.segments import typed_customers
from scoring.metrics.web import valued_properties
from tasks.extract.buckets import BucketedRaw
from tasks.extract.customers import read_customers
from tasks.publish.write import write_staged
from tasks.quality.buckets import BucketCheck, bucket_rows, staged_check
from tasks.score.metrics import (
    MetricsReport,
    materialized,
    panel_events_of,
    panel_key,
    staged_tables,
)
from tasks.score.scores import ScoreReport, score_events, stage_scores

BUCKETS_DIR = "_buckets"


@dataclass(frozen=True)
class BucketPart:
    """One bucket's staged results (paths) and counts, and the bytes its task read."""

    bucket: int
    check: BucketCheck
    scores: str
    contributions: str
    unweighted_event_types: dict[str, int]
    panel_counts: str
    pages: str
    feature_users: str
    attribute_sources: dict[str, str]
    files_read: list[str]
    bytes_read: int


def bucket_dir(staging: str | Path, bucket: int) -> Path:
    return Path(staging) / BUCKETS_DIR / f"bucket={bucket}"


def text_keyed(frame: pl.LazyFrame, panel_customers: pl.LazyFrame) -> pl.LazyFrame:
    """A frame keyed by the panel's customer KEY (`customer_id` column) with the text id
    instead: buckets hash their keys apart, the merge joins on the text ids."""
    ids = panel_customers.select(pl.col(KEY).alias("_key"), pl.col("customer_id").alias("_id"))
    return (
        frame.join(ids, left_on="customer_id", right_on="_key", how="left")
        .with_columns(pl.col("_id").alias("customer_id"))
        .drop("_id")
    )


def bucket_panel(
    valid: pl.DataFrame,
    table: pl.LazyFrame | None,
    totals: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame, dict[str, str]]:
    """A bucket's metric panel up to its per-customer counts (customer_panel.customer_counts,
    KEY set to the text id), its page counts and feature users by text id, and where its
    attributes come from."""
    events = panel_events_of(valid.lazy(), config, run_date, table, totals)
    key = panel_key(totals)
    inputs, events_read = panel_inputs(events, config, run_date, table, totals, key)
    sessions = window_sessions(events, config, run_date, key, valued_properties(events))
    frames = event_frames(inputs, events_read, sessions.collect().lazy())
    counts = customer_counts(inputs, frames).collect().lazy()
    return (
        counts.with_columns(pl.col("customer_id").alias(KEY)),
        text_keyed(frames.pages, counts),
        text_keyed(frames.feature_users, counts),
        inputs.attribute_sources,
    )


@task(name="process-bucket", cache_policy=NO_CACHE, persist_result=False)
def process_bucket(
    raw: BucketedRaw,
    bucket: int,
    config: ScoringConfig,
    run_date: date,
    now: datetime,
    staging: str,
    customers: str | None = None,
) -> BucketPart:
    """Every per-customer step of one bucket, on its raw partition read once: row checks,
    scores and the panel's totals, the metric panel's per-customer counts; stage them."""
    files_read = [raw.partitions[bucket], raw.repeats]
    rows = bucket_rows(*(pl.read_parquet(f, glob=False) for f in files_read), config, run_date, now)
    directory = bucket_dir(staging, bucket)
    check = staged_check(rows, staging, bucket)
    scored = score_events(rows.valid.lazy(), config, run_date, str(directory), keep_totals=True)
    assert scored.totals_file is not None  # keep_totals
    table = read_customers(customers).lazy() if customers else None
    totals = pl.scan_ipc(scored.totals_file, glob=False).collect().lazy()
    counts, pages, features, sources = bucket_panel(rows.valid, table, totals, config, run_date)
    paths = {name: directory / f"{name}.parquet" for name in ("counts", "pages", "features")}
    for name, frame in zip(paths, pl.collect_all([counts, pages, features]), strict=True):
        write_staged(frame, paths[name])
    return BucketPart(
        bucket=bucket,
        check=check,
        scores=scored.scores_file,
        contributions=scored.contributions_file,
        unweighted_event_types=scored.unweighted_event_types,
        panel_counts=str(paths["counts"]),
        pages=str(paths["pages"]),
        feature_users=str(paths["features"]),
        attribute_sources=sources,
        files_read=files_read,
        bytes_read=sum(Path(f).stat().st_size for f in files_read),
    )


def process_buckets(
    raw: BucketedRaw,
    config: ScoringConfig,
    run_date: date,
    now: datetime,
    staging: str,
    customers: str | None = None,
) -> list[BucketPart]:
    """Submit one task per bucket to the flow's task runner; their parts in bucket order."""
    futures = [
        process_bucket.submit(raw, bucket, config, run_date, now, staging, customers)
        for bucket in range(len(raw.partitions))
    ]
    return [future.result() for future in futures]


@task(name="merge-bucket-scores", cache_policy=NO_CACHE, persist_result=False)
def merge_scores(
    parts: list[BucketPart], staging: str, run_date: date, boundaries: TierBoundaries
) -> ScoreReport:
    """The buckets' scores and contributions in the single-process order, staged; rank-based
    tiers (tiers.quantiles) ranked over every customer, not each bucket's own."""
    scores = pl.read_parquet([p.scores for p in parts], glob=False).sort("customer_id")
    if boundaries.quantiles is not None:
        # a rank-based tier depends on every customer's score, not on its bucket's only
        scores = scores.with_columns(tier_of(pl.col("score"), boundaries).alias("tier"))
    contributed = pl.read_parquet([p.contributions for p in parts], glob=False).sort(
        "customer_id", "event_type"
    )
    unweighted: dict[str, int] = {}
    for part in parts:
        for event_type, count in part.unweighted_event_types.items():
            unweighted[event_type] = unweighted.get(event_type, 0) + count
    return stage_scores(scores, contributed, dict(sorted(unweighted.items())), staging, run_date)


def merged_panel(
    parts: list[BucketPart], config: ScoringConfig, run_date: date, customers: str | None
) -> MetricPanel:
    """The buckets' panel counts completed over the whole population (customer_rows: the
    feature catalogue of every bucket's features when not configured, score percentiles)."""
    counts = pl.concat([pl.scan_parquet(p.panel_counts, glob=False) for p in parts])
    pages = pl.concat([pl.scan_parquet(p.pages, glob=False) for p in parts])
    feature_users = pl.concat([pl.scan_parquet(p.feature_users, glob=False) for p in parts])
    if config.metric_settings.features is None:
        # joined, not a literal: a literal divisor is a scalar, which Polars divides by
        # exactly where a column is multiplied by its reciprocal (see retention.stickiness)
        catalogue = feature_users.select(
            pl.col("feature").n_unique().cast(pl.Int64).alias("feature_catalogue")
        ).collect()
        counts = counts.drop("feature_catalogue").join(catalogue.lazy(), how="cross")
    counts = counts.sort("customer_id")  # the single-process order (the totals')
    table = read_customers(customers).lazy() if customers else None
    inputs = PanelInputs(
        config=config,
        run_date=run_date,
        window=Window.ending_on(run_date, config.window_days),
        key=CUSTOMER_ID,
        customers=typed_customers(table) if table is not None else None,
        attribute_sources=parts[0].attribute_sources,
        totals=counts,
    )
    segments = config.metric_settings.segments
    return MetricPanel(
        customers=customer_rows(inputs, counts),
        pages=pages,
        feature_users=feature_users,
        segments=tuple(s for s in segments if s in inputs.attribute_sources),
    )


@task(name="merge-bucket-panels", cache_policy=NO_CACHE, persist_result=False)
def merge_panels(
    parts: list[BucketPart],
    config: ScoringConfig,
    run_date: date,
    staging: str,
    customers: str | None = None,
) -> MetricsReport:
    """The metric panel of every bucket's counts, customer_metrics and segment_metrics staged."""
    panel = merged_panel(parts, config, run_date, customers)
    return staged_tables(materialized(panel), config, staging, run_date)
