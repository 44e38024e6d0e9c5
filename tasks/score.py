"""Score: run the pure scoring rules on the staged valid events and stage the outputs."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.config import ScoringConfig
from scoring.engagement import (
    contributions,
    customer_scores,
    tier_distribution,
    unweighted_event_types,
)
from scoring.schema import CONTRIBUTIONS, SCORES
from tasks.write import write_partition


@dataclass(frozen=True)
class ScoreReport:
    """What a scoring step produced (small: passed between tasks and into the manifest)."""

    customers: int
    events_in_window: int
    tiers: dict[str, int]
    unweighted_event_types: dict[str, int]
    scores_file: str
    contributions_file: str


@task(name="score-customers", cache_policy=NO_CACHE, persist_result=False)
def score_customers(
    valid_path: str, config: ScoringConfig, run_date: date, staging: str
) -> ScoreReport:
    """Score every customer for the run date and stage scores and contributions."""
    events = pl.scan_parquet(valid_path)
    scores, contributed, unweighted = pl.collect_all(
        [
            customer_scores(events, config, run_date),
            contributions(events, config, run_date),
            unweighted_event_types(events, config, run_date),
        ]
    )
    tiers = tier_distribution(scores.lazy()).collect()
    scores_file = write_partition(scores, "scores", SCORES, staging, run_date)
    contributions_file = write_partition(
        contributed, "contributions", CONTRIBUTIONS, staging, run_date
    )
    return ScoreReport(
        customers=scores.height,
        events_in_window=int(scores["event_count"].sum()),
        tiers=dict(zip(tiers["tier"].to_list(), tiers["customers"].to_list(), strict=True)),
        unweighted_event_types=dict(
            zip(unweighted["event_type"].to_list(), unweighted["count"].to_list(), strict=True)
        ),
        scores_file=str(Path(scores_file)),
        contributions_file=str(Path(contributions_file)),
    )
