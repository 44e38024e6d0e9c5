"""Scale-out buckets with rank-based tiers: the merged tiers rank every customer, not each
bucket's own (no Prefect: the merge task's function over buckets scored apart)."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from scoring.aggregates import customer_bucket
from scoring.config import ScoringConfig, TierBoundaries, TierQuantiles
from scoring.engagement import customer_scores
from tasks.score.buckets import BucketPart, merge_scores
from tasks.score.scores import score_events

RUN_DATE = date(2026, 3, 31)


def test_rank_tiers_are_taken_over_all_buckets(tmp_path: Path) -> None:
    quantiles = TierQuantiles(
        churn_risk_below=0.2,
        very_disengaged_max=0.4,
        somewhat_engaged_max=0.6,
        highly_engaged_max=0.8,
    )
    config = ScoringConfig(weights={"login": 1}, tiers=TierBoundaries(quantiles=quantiles))
    at = datetime(2026, 3, 30, tzinfo=UTC)
    # customer k logs in k times: 40 distinct scores spread over the buckets
    rows = [(f"c{k:02d}", at - timedelta(minutes=i)) for k in range(1, 41) for i in range(k)]
    events = pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "customer_id": [c for c, _ in rows],
            "event_type": "login",
            "occurred_at": [t for _, t in rows],
        }
    )
    parts = []
    for bucket in range(3):
        rows = events.filter(customer_bucket(3) == bucket)
        scored = score_events(rows.lazy(), config, RUN_DATE, str(tmp_path / f"b{bucket}"))
        files = (scored.scores_file, scored.contributions_file, scored.unweighted_event_types)
        parts.append(BucketPart(bucket, None, *files, "", "", "", {}, [], 0))  # type: ignore[arg-type]
    report = merge_scores.fn(parts, str(tmp_path), RUN_DATE, config.tier_boundaries)
    merged = pl.read_parquet(report.scores_file).sort("customer_id")
    expected = customer_scores(events.lazy(), config, RUN_DATE).collect()
    assert merged.select("customer_id", "tier").equals(expected.select("customer_id", "tier"))
    assert report.tiers == dict.fromkeys(
        ("churn_risk", "very_disengaged", "somewhat_engaged", "highly_engaged", "power_user"), 8
    )
