"""The follow-up task reads the right earlier partitions: the previous run and N days ago."""

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from scoring.config import ScoringConfig
from scoring.history import score_snapshot
from scoring.schema import CONTRIBUTIONS, SCORE_HISTORY, SCORES
from tasks.followups.track import previous_run_date, track_followups
from tasks.publish.write import write_partition

CONFIG = ScoringConfig.model_validate(
    {
        "weights": {"login": 1},
        "followups": {
            "rules": [
                {
                    "name": "weekly",
                    "kind": "at_risk",
                    "when": {"condition": "score_drop", "points": 10, "days_ago": 7},
                    "reason": "down {score_drop} from {previous_score} a week ago",
                },
                {
                    "name": "daily",
                    "kind": "at_risk",
                    "when": {"condition": "score_drop", "points": 10},
                    "reason": "down {score_drop} from {previous_score} at the last run",
                },
            ]
        },
    }
)
LAST_EVENT = datetime(2026, 3, 20, tzinfo=UTC)


def scores(customers: dict[str, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": list(customers),
            "score": list(customers.values()),
            "tier": ["very_disengaged"] * len(customers),
            "event_count": [1] * len(customers),
            "last_event_at": [LAST_EVENT] * len(customers),
        }
    )


def history(customers: dict[str, float]) -> pl.DataFrame:
    return score_snapshot(scores(customers).lazy(), None).collect()


def test_compares_with_the_previous_run_and_with_n_days_ago(tmp_path: Path) -> None:
    output, staging = tmp_path / "out", tmp_path / "staging"
    empty = pl.DataFrame(schema={c.name: c.dtype for c in CONTRIBUTIONS})
    for day, customer_scores in (
        (date(2026, 3, 13), {"a": 30.0, "b": 30.0}),
        (date(2026, 3, 19), {"a": 12.0, "b": 30.0}),
    ):
        write_partition(history(customer_scores), "score_history", SCORE_HISTORY, output, day)
    write_partition(
        history({"zzz": 1.0}), "score_history", SCORE_HISTORY, output, date(2026, 3, 25)
    )  # after the run date: ignored
    run_date = date(2026, 3, 20)
    assert previous_run_date(output, run_date) == date(2026, 3, 19)

    scores_file = write_partition(
        scores({"a": 10.0, "b": 15.0}), "scores", SCORES, staging, run_date
    )
    contributions_file = write_partition(empty, "contributions", CONTRIBUTIONS, staging, run_date)
    report = track_followups.fn(
        str(scores_file), str(contributions_file), CONFIG, run_date, str(staging), str(output)
    )
    assert report.previous_run_date == date(2026, 3, 19)
    assert report.actions == {"new": 2, "changed": 0, "resolved": 0}
    flags = pl.read_parquet(staging / "flags" / "run_date=2026-03-20")
    assert flags.select("customer_id", "rules", "reasons", "previous_score").rows() == [
        ("a", "weekly", "down 20 from 30 a week ago", 12.0),  # only 2 down since the last run
        ("b", "daily, weekly", "down 15 from 30 at the last run; down 15 from 30 a week ago", 30.0),
    ]
    appended = pl.read_parquet(staging / "score_history" / "run_date=2026-03-20")
    assert appended.select("customer_id", "score").rows() == [("a", 10.0), ("b", 15.0)]
