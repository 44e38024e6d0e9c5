"""Scale-out: the scoring step partitioned by customer hash bucket, one Prefect task per
bucket, on whatever task runner the flow has (a Dask cluster through prefect-dask's
DaskTaskRunner; threads by default). Every customer falls in exactly one bucket and every
rule is per customer, so the merged outputs are those of a single-process run, byte for byte.

Tasks exchange paths, never frames: the staging directory must be on storage every worker
can read and write (a shared file system on a real cluster).
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.aggregates import (
    contributions_from_totals,
    customer_bucket,
    customer_scores_from_totals,
    unweighted_event_types_from_totals,
    window_totals,
)
from scoring.config import ScoringConfig, TierBoundaries
from scoring.engagement import tier_of
from tasks.score.scores import ScoreReport, stage_scores

BUCKETS_DIR = "_buckets"


@dataclass(frozen=True)
class BucketPart:
    """One bucket's staged outputs (paths) and its unweighted-type counts."""

    bucket: int
    scores: str
    contributions: str
    unweighted_event_types: dict[str, int]


@task(name="score-bucket", cache_policy=NO_CACHE, persist_result=False)
def score_bucket(
    valid_path: str, config: ScoringConfig, run_date: date, staging: str, bucket: int, buckets: int
) -> BucketPart:
    """Score the customers of one hash bucket; stage its scores and contributions."""
    events = pl.scan_parquet(valid_path).filter(customer_bucket(buckets) == bucket)
    totals = window_totals(events, config, run_date).collect().lazy()
    scores, contributed, unweighted = pl.collect_all(
        [
            customer_scores_from_totals(totals, config),
            contributions_from_totals(totals, config),
            unweighted_event_types_from_totals(totals, config),
        ]
    )
    directory = Path(staging) / BUCKETS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    scores_path = directory / f"scores-{bucket}.parquet"
    contributions_path = directory / f"contributions-{bucket}.parquet"
    scores.write_parquet(scores_path)
    contributed.write_parquet(contributions_path)
    return BucketPart(
        bucket=bucket,
        scores=str(scores_path),
        contributions=str(contributions_path),
        unweighted_event_types=dict(
            zip(unweighted["event_type"].to_list(), unweighted["count"].to_list(), strict=True)
        ),
    )


@task(name="merge-buckets", cache_policy=NO_CACHE, persist_result=False)
def merge_buckets(
    parts: list[BucketPart], staging: str, run_date: date, boundaries: TierBoundaries
) -> ScoreReport:
    """Concatenate the buckets' outputs in the single-process order and stage them."""
    scores = pl.read_parquet([p.scores for p in parts]).sort("customer_id")
    if boundaries.quantiles is not None:
        # a rank-based tier depends on every customer's score, not on its bucket's only
        scores = scores.with_columns(tier_of(pl.col("score"), boundaries).alias("tier"))
    contributed = pl.read_parquet([p.contributions for p in parts]).sort(
        "customer_id", "event_type"
    )
    unweighted: dict[str, int] = {}
    for part in parts:
        for event_type, count in part.unweighted_event_types.items():
            unweighted[event_type] = unweighted.get(event_type, 0) + count
    return stage_scores(scores, contributed, dict(sorted(unweighted.items())), staging, run_date)


def score_in_buckets(
    valid_path: str, config: ScoringConfig, run_date: date, staging: str, buckets: int
) -> ScoreReport:
    """Submit one scoring task per bucket to the flow's task runner, then merge."""
    futures = [
        score_bucket.submit(valid_path, config, run_date, staging, bucket, buckets)
        for bucket in range(buckets)
    ]
    return merge_buckets(
        [future.result() for future in futures], staging, run_date, config.tier_boundaries
    )
