"""The follow-up task reads the right earlier partitions: the previous run and N days ago."""

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from scoring.config import ScoringConfig
from scoring.history import score_snapshot
from scoring.schema import CONTRIBUTIONS, FLAGS, SCORE_HISTORY, SCORES
from tasks.followups.track import (
    FollowupReport,
    previous_flags,
    previous_run_date,
    track_followups,
    with_baseline_delivery,
)
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
    assert (report.statuses, report.deliveries, report.baseline) == (
        {"new": 2, "open": 0, "queued": 0},
        2,
        False,  # an earlier history exists: not a baseline
    )
    flags = pl.read_parquet(staging / "flags" / "run_date=2026-03-20")
    assert flags.select("priority", "customer_id").rows() == [(1, "b"), (2, "a")]  # 2 rules
    assert flags.sort("customer_id").select(
        "customer_id", "rules", "reasons", "previous_score"
    ).rows() == [
        ("a", "weekly", "down 20 from 30 a week ago", 12.0),  # only 2 down since the last run
        ("b", "daily, weekly", "down 15 from 30 at the last run; down 15 from 30 a week ago", 30.0),
    ]
    appended = pl.read_parquet(staging / "score_history" / "run_date=2026-03-20")
    assert appended.select("customer_id", "score").rows() == [("a", 10.0), ("b", 15.0)]


def test_a_baseline_run_queues_its_flags_with_owner_name_and_value(tmp_path: Path) -> None:
    staging, run_date = tmp_path / "staging", date(2026, 3, 20)
    empty = pl.DataFrame(schema={c.name: c.dtype for c in CONTRIBUTIONS})
    scores_file = write_partition(scores({"a": 5.0, "b": 6.0}), "scores", SCORES, staging, run_date)
    contributions_file = write_partition(empty, "contributions", CONTRIBUTIONS, staging, run_date)
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,plan,account_owner,name,arr\na,pro,Ada,Acme,1000\n")
    config = ScoringConfig.model_validate(
        {
            "weights": {"login": 1},
            "followups": {
                "rules": [
                    {
                        "name": "low",
                        "kind": "at_risk",
                        "when": {"condition": "tier", "tiers": ["very_disengaged"]},
                        "reason": "low ({score})",
                    }
                ]
            },
        }
    )

    def track(config: ScoringConfig) -> FollowupReport:
        files = (str(scores_file), str(contributions_file))
        places = (str(staging), str(tmp_path / "out"))
        return track_followups.fn(*files, config, run_date, *places, str(customers))

    report = track(config)
    assert (report.baseline, report.deliveries) == (True, 0)
    assert report.statuses == {"new": 0, "open": 0, "queued": 2}
    flags = pl.read_parquet(staging / "flags" / "run_date=2026-03-20").sort("customer_id")
    routed = flags.select("customer_id", "status", "account_owner", "customer_name", "plan")
    assert routed.with_columns(flags["value"]).rows() == [
        ("a", "queued", "Ada", "Acme", "pro", 1000.0),
        ("b", "queued", None, None, None, None),  # not in the customers table
    ]
    assert pl.read_parquet(staging / "actions" / "run_date=2026-03-20").is_empty()
    delivering = track(with_baseline_delivery(config))
    assert (delivering.statuses["new"], delivering.deliveries) == (2, 2)


def test_flags_published_before_statuses_existed_count_as_delivered(tmp_path: Path) -> None:
    output = tmp_path / "out"
    legacy = pl.DataFrame({"customer_id": ["a"], "kind": ["at_risk"], "rules": ["low"]})
    write_partition(legacy, "flags", None, output, date(2026, 3, 19))
    flags = previous_flags(output, date(2026, 3, 19)).collect()
    assert flags.select("customer_id", "status").rows() == [("a", "open")]  # not re-sent
    assert previous_flags(output, None).collect().columns == [c.name for c in FLAGS]
