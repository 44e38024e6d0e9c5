"""Follow-ups over consecutive simulated days through the daily flow: the first run is a
baseline (its flags queued, nothing delivered); a fading customer is flagged the day its rule
fires, not re-flagged the next day, resolved when it recovers and re-flagged after the
cool-down; a highly engaged trial customer is flagged upsell-ready, delivered after the
baseline."""

import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from flows.daily import daily_scoring
from scoring.config import ScoringConfig
from scoring.schema import ACTIONS, FLAGS, SCORE_HISTORY, polars_schema

DAY_1 = date(2026, 3, 1)
CONFIG = ScoringConfig.model_validate(
    {
        "window_days": 1,  # the score is the day's activity: easy to fade and recover
        "weights": {"login": 10},
        "followups": {
            "cooldown_days": 1,
            "rules": [
                {
                    "name": "score_drop",
                    "kind": "at_risk",
                    "when": {"condition": "score_drop", "points": 15},
                    "reason": "score dropped {score_drop} points to {score}",
                },
                {
                    "name": "pql",
                    "kind": "upsell_ready",
                    "when": {"condition": "product_qualified_lead", "plans": ["trial"]},
                    "reason": "{plan} customer scoring {tier} ({score})",
                },
            ],
        },
    }
)
# logins per day (day 1..5): fade drops 20 on day 2, 20 on day 3, recovers on day 4 and
# drops 20 again on day 5 (2 days after the last drop > cool-down of 1 day)
LOGINS = {"fade": [5, 3, 1, 4, 2], "trial": [8, 8, 8, 8, 8], "pro": [8, 8, 8, 8, 8]}


def day(n: int) -> date:
    return DAY_1 + timedelta(days=n - 1)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("days")
    rows = ["event_id,customer_id,event_type,occurred_at"]
    for customer, per_day in LOGINS.items():
        for n, logins in enumerate(per_day, start=1):
            rows += [
                f"{customer}-{n}-{i},{customer},login,{day(n)}T{10 + i:02d}:00:00Z"
                for i in range(logins)
            ]
    events = directory / "events.csv"
    events.write_text("\n".join(rows) + "\n")
    customers = directory / "customers.csv"
    customers.write_text("customer_id,plan\nfade,pro\ntrial,trial\npro,pro\n")
    return events, customers


def run(inputs: tuple[Path, Path], output: Path, n: int, deliver_baseline: bool = False) -> None:
    events, customers = inputs
    daily_scoring(
        events=str(events),
        config=CONFIG,
        run_date=day(n),
        output=str(output),
        customers=str(customers),
        deliver_baseline=deliver_baseline,
    )


@pytest.fixture(scope="module")
def three_days(
    prefect_api: str, inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The output after days 1, 2 and 3, run in order: each test continues a copy of it."""
    output = tmp_path_factory.mktemp("three-days") / "out"
    for n in (1, 2, 3):
        run(inputs, output, n)
    return output


def actions_of(output: Path, n: int) -> list[tuple]:
    frame = pl.read_parquet(output / "actions" / f"run_date={day(n)}" / "part-0.parquet")
    assert frame.schema == polars_schema(ACTIONS)
    return frame.select("action", "customer_id", "kind", "reasons").rows()


def test_five_days_of_flags_and_actions(
    inputs: tuple[Path, Path], three_days: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    shutil.copytree(three_days, output)
    for n in (4, 5):
        run(inputs, output, n)

    pql = ("upsell_ready", "trial customer scoring highly_engaged (80)")
    assert actions_of(output, 1) == []  # a baseline: its flags wait
    flags_1 = pl.read_parquet(output / "flags" / f"run_date={day(1)}")
    assert flags_1.select("customer_id", "status").rows() == [("trial", "queued")]  # not pro
    assert actions_of(output, 2) == [
        ("new", "fade", "at_risk", "score dropped 20 points to 30"),  # the day it fires: first
        ("new", "trial", *pql),  # from the queue
    ]
    assert actions_of(output, 3) == []  # still dropping: not flagged again
    assert actions_of(output, 4) == [("resolved", "fade", "at_risk", "no longer holds: score_drop")]
    assert actions_of(output, 5) == [
        ("new", "fade", "at_risk", "score dropped 20 points to 20"),  # after the cool-down
    ]

    flags_3 = pl.read_parquet(output / "flags" / f"run_date={day(3)}")
    assert flags_3.schema == polars_schema(FLAGS)
    assert flags_3.select(
        "customer_id",
        "kind",
        "status",
        "priority",
        "flagged_on",
        "rules",
        "reasons",
        "score",
        "previous_score",
        "score_delta",
        "explanation",
    ).rows() == [
        (
            "fade",
            "at_risk",
            "open",
            1,
            day(2),
            "score_drop",
            "score dropped 20 points to 10",
            10.0,
            30.0,
            -20.0,
            "-20: 2 fewer login (-20)",
        ),
        (
            "trial",
            "upsell_ready",
            "open",
            2,
            day(1),
            "pql",
            "trial customer scoring highly_engaged (80)",
            80.0,
            80.0,
            0.0,
            "0: no change",
        ),
    ]
    message = pl.read_parquet(output / "actions" / f"run_date={day(2)}")["message"][0]
    assert message == (
        ":warning: *At risk* · new flag · #1 · customer `fade` · score 30 (very_disengaged)"
        " · change -20: 2 fewer login (-20)\n• score dropped 20 points to 30"
    )

    history = pl.read_parquet(output / "score_history")
    assert history.drop("run_date").schema == polars_schema(SCORE_HISTORY)
    fade = history.filter(pl.col("customer_id") == "fade").sort("run_date")
    assert fade["score"].to_list() == [50.0, 30.0, 10.0, 40.0, 20.0]


def test_a_rerun_replaces_the_date_and_gives_the_same_actions(
    prefect_api: str, inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    output = tmp_path / "out"
    for n in (1, 2, 3, 2):
        run(inputs, output, n, deliver_baseline=n == 1)
    history = pl.read_parquet(output / "score_history")
    assert history.group_by("run_date").len().sort("run_date").rows() == [
        (day(1), 3),
        (day(2), 3),
        (day(3), 3),
    ]
    # the baseline was told to deliver: the trial customer's flag went out on day 1
    assert actions_of(output, 1) == [
        ("new", "trial", "upsell_ready", "trial customer scoring highly_engaged (80)")
    ]
    assert actions_of(output, 2) == [("new", "fade", "at_risk", "score dropped 20 points to 30")]
