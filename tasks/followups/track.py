"""Follow-ups: append the score history, evaluate the flags against the previous run, stage
the flags, enrolments and actions, and announce the run with a Prefect event."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from scoring.config import ScoringConfig
from scoring.followup_config import FollowupsConfig
from scoring.followups import (
    comparison_days,
    current_flags,
    customer_routing,
    empty_enrolments,
    empty_flags,
    flag_actions,
    flag_statuses,
    followup_evidence,
    prioritized_flags,
    rule_enrolments,
    rule_matches,
)
from scoring.history import explained_changes, score_deltas, score_snapshot
from scoring.schema import (
    ACTIONS,
    CONTRIBUTIONS,
    FLAG_ENROLMENTS,
    FLAGS,
    SCORE_HISTORY,
    polars_schema,
)
from scoring.schema.followups import ACTION_KINDS, FLAG_KINDS, FLAG_STATUSES
from tasks.extract.customers import read_customers
from tasks.publish.runs import latest_run_date_before, published_run_dates
from tasks.publish.write import PART_FILE, partition_dir, write_partition

RUN_EVENT = "engage.scoring.completed"
"""The Prefect event the daily flow emits after publishing; it triggers the follow-up flow."""


@dataclass(frozen=True)
class FollowupReport:
    """What the follow-up step found (small: goes into the manifest and the run event)."""

    previous_run_date: date | None
    flags: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    """Flags per status: new (delivered by this run), open (delivered before), queued."""
    deliveries: int = 0
    """Actions the delivery flow sends (new, changed and resolved of delivered flags)."""
    baseline: bool = False
    """No previous history under the output: flags queued unless deliver_baseline."""


def previous_run_date(output: str | Path, run_date: date) -> date | None:
    """The latest run date before `run_date` with a published score history, if any."""
    return latest_run_date_before(output, run_date, "score_history")


def first_run_date(output: str | Path, run_date: date) -> date:
    """The output's baseline: its earliest run date with a score history (or this run's)."""
    earlier = published_run_dates(output, "score_history", PART_FILE)
    return min([*earlier, run_date])


def published(output: str | Path, table: str, run_date: date | None, otherwise: Any) -> Any:
    """A published partition of a table, or `otherwise` when there is none."""
    if run_date is None:
        return otherwise
    path = partition_dir(output, table, run_date) / PART_FILE
    return pl.scan_parquet(path, glob=False) if path.exists() else otherwise


def previous_flags(output: str | Path, run_date: date | None) -> pl.LazyFrame:
    """The flags of the previous run; a partition written before flags had a status counts
    every flag as delivered (`open`): they were."""
    flags: pl.LazyFrame = published(output, "flags", run_date, empty_flags())
    if "status" not in flags.collect_schema().names():
        flags = flags.with_columns(pl.lit("open").alias("status"))
    return flags


def counts_by(frame: pl.DataFrame, column: str, values: tuple[str, ...]) -> dict[str, int]:
    """How many rows have each value (every value listed, 0 where none)."""
    found = dict(frame[column].value_counts().iter_rows()) if frame.height else {}
    return {value: int(found.get(value, 0)) for value in values}


def with_baseline_delivery(config: ScoringConfig) -> ScoringConfig:
    """The configuration with `followups.deliver_baseline` on (a run's parameter overriding
    it; the manifest then records what the run did). Without follow-ups: unchanged."""
    if config.followups is None:
        return config
    followups = config.followups.model_copy(update={"deliver_baseline": True})
    return config.model_copy(update={"followups": followups})


def why_changed(
    output: str,
    before: date | None,
    contributions: pl.LazyFrame,
    deltas: pl.LazyFrame,
    customers: pl.LazyFrame,
) -> pl.LazyFrame:
    """Why the scores of `customers` (customer_id) changed since the previous run: the exact
    decomposition of their deltas by event type, as text (scoring.history.explained_changes)."""
    previous_contributions = published(
        output, "contributions", before, pl.LazyFrame(schema=polars_schema(CONTRIBUTIONS))
    )
    return explained_changes(customers, contributions, previous_contributions, deltas)


def snapshots_days_ago(
    output: str, run_date: date, followups: FollowupsConfig
) -> dict[int, pl.LazyFrame | None]:
    """The score history of the runs the rules compare with `days_ago` (None: no such run)."""
    return {
        days: published(output, "score_history", run_date - timedelta(days=days), None)
        for days in comparison_days(followups)
    }


@task(name="track-followups", cache_policy=NO_CACHE, persist_result=False)
def track_followups(
    scores_file: str,
    contributions_file: str,
    config: ScoringConfig,
    run_date: date,
    staging: str,
    output: str,
    customers: str | None = None,
) -> FollowupReport:
    """Stage score_history, flags, flag_enrolments and actions for the run date, compared
    with the latest earlier run published under `output`. Customer metrics (NPS, effort,
    feature adoption) are used when this run staged a customer_metrics table; the customers
    table gives plans, owners, names and values."""
    followups = config.followup_settings
    scores = pl.scan_parquet(scores_file, glob=False)
    contributed = pl.scan_parquet(contributions_file, glob=False)
    metrics_file = partition_dir(staging, "customer_metrics", run_date) / PART_FILE
    metrics = pl.scan_parquet(metrics_file, glob=False) if metrics_file.exists() else None
    customers_frame = read_customers(customers).lazy() if customers else None

    before = previous_run_date(output, run_date)
    deltas = score_deltas(scores, published(output, "score_history", before, None))
    evidence = followup_evidence(deltas, scores, run_date, metrics, customers_frame)
    matches = rule_matches(
        evidence,
        contributed,
        followups,
        snapshots_days_ago(output, run_date, followups),
        config.tier_boundaries,
    )
    enrolments = rule_enrolments(
        matches,
        published(output, "flag_enrolments", before, empty_enrolments()),
        run_date,
        followups.cooldown_days,
    )
    routing = customer_routing(customers_frame, followups)
    flagged_before = previous_flags(output, before)
    # the customers a flag or an action can name: the open enrolments and the previous flags
    named = pl.concat(
        [
            enrolments.filter(pl.col("status") == "open").select("customer_id"),
            flagged_before.select("customer_id"),
        ]
    )
    explanations = why_changed(output, before, contributed, deltas, named)
    candidates = current_flags(enrolments, matches, evidence, explanations, followups.precedence)
    flags = flag_statuses(
        prioritized_flags(candidates, routing, run_date, first_run_date(output, run_date)),
        flagged_before,
        followups.capacity,
        deliver=before is not None or followups.deliver_baseline,
    )
    actions = flag_actions(flags, flagged_before, evidence, explanations, routing, run_date)
    history, enrolled, flagged, acted = pl.collect_all(
        [score_snapshot(scores, metrics), enrolments, flags, actions]
    )
    for frame, table, contract in (
        (history, "score_history", SCORE_HISTORY),
        (enrolled, "flag_enrolments", FLAG_ENROLMENTS),
        (flagged, "flags", FLAGS),
        (acted, "actions", ACTIONS),
    ):
        write_partition(frame, table, contract, staging, run_date)
    return followup_report(before, flagged, acted)


def followup_report(
    before: date | None, flags: pl.DataFrame, actions: pl.DataFrame
) -> FollowupReport:
    """The counts of a run's flags (per kind and status) and delivered actions."""
    return FollowupReport(
        previous_run_date=before,
        flags=counts_by(flags, "kind", FLAG_KINDS),
        actions=counts_by(actions.filter(pl.col("delivered")), "action", ACTION_KINDS),
        statuses=counts_by(flags, "status", FLAG_STATUSES),
        deliveries=int(actions["delivered"].sum()),
        baseline=before is None,
    )


def emit_run_event(run_date: date, output: str, counts: dict[str, Any]) -> None:
    """Announce a published run: the follow-up deployment's trigger listens for RUN_EVENT."""
    emit_event(
        event=RUN_EVENT,
        resource={
            "prefect.resource.id": f"engage.scoring.{run_date.isoformat()}",
            "prefect.resource.name": f"engage scoring {run_date.isoformat()}",
        },
        payload={"run_date": run_date.isoformat(), "output": str(Path(output).resolve()), **counts},
    )
