"""Score: run the pure scoring rules on the staged valid events and stage the outputs."""

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from scoring.aggregates import (
    WINDOW_TOTALS,
    contributions_from_totals,
    customer_scores_from_totals,
    event_type_totals,
    unweighted_event_types_from_totals,
    window_totals,
    window_totals_from_daily,
)
from scoring.config import ScoringConfig
from scoring.engagement import tier_distribution
from scoring.keyed import (
    customer_order,
    customers_before_window,
    daily_pairs,
    keyed_contributions,
    keyed_scores,
    keyed_unweighted,
    keys_told_apart,
    ranked_pairs,
    told_apart_pairs,
    window_customers,
    window_events,
    window_pairs,
)
from scoring.metrics.panel_inputs import customer_totals
from scoring.metrics.panel_of_days import (
    PanelDays,
    customer_totals_of_days,
    day_ranges,
    weighted_counts,
)
from scoring.schema import CONTRIBUTIONS, SCORES
from tasks.publish.write import StagedEvents, events_of, write_partition
from tasks.score.daily_aggregates import (
    panel_days_from_store,
    store_read,
    window_totals_from_store,
)
from tasks.score.running_totals import PeriodTotals, period_totals


@dataclass(frozen=True)
class ScoreReport:
    """What a scoring step produced (small: passed between tasks and into the manifest)."""

    customers: int
    events_in_window: int
    tiers: dict[str, int]
    unweighted_event_types: dict[str, int]
    scores_file: str
    contributions_file: str
    totals_file: str | None = None


TOTALS_FILE = "customer_totals.arrow"
"""The scoring pass's per-customer totals (scoring.metrics.panel_inputs.customer_totals), staged for
the metric panel (a work file of the staging directory: not an output)."""


def score_totals(
    totals: pl.DataFrame,
    last_events: pl.LazyFrame | None,
    config: ScoringConfig,
    run_date: date,
    staging: str,
    panel_totals: pl.LazyFrame | None = None,
) -> ScoreReport:
    """Scores, contributions and unweighted types from window totals; stage the outputs.

    panel_totals: the customers' rows to compute in place of the scores, with their columns
    and the panel's (scoring.metrics.panel_inputs.customer_totals); staged as TOTALS_FILE."""
    window = totals.lazy()
    per_customer = (
        customer_scores_from_totals(window, config, last_events)
        if panel_totals is None
        else panel_totals
    )
    customers, contributed, unweighted = pl.collect_all(
        [
            per_customer,
            contributions_from_totals(window, config),
            unweighted_event_types_from_totals(window, config),
        ]
    )
    report = stage_scores(customers, contributed, type_counts(unweighted), staging, run_date)
    if panel_totals is None:
        return report
    totals_file = Path(staging) / TOTALS_FILE
    customers.write_ipc(totals_file)
    return replace(report, totals_file=str(totals_file))


def stage_scores(
    scores: pl.DataFrame,
    contributed: pl.DataFrame,
    unweighted_event_types: dict[str, int],
    staging: str,
    run_date: date,
) -> ScoreReport:
    """Stage the scores and contributions partitions and report what they hold."""
    tiers = tier_distribution(scores.lazy()).collect()
    scores_file = write_partition(scores, "scores", SCORES, staging, run_date)
    contributions_file = write_partition(
        contributed, "contributions", CONTRIBUTIONS, staging, run_date
    )
    return ScoreReport(
        customers=scores.height,
        events_in_window=int(scores["event_count"].sum()),
        tiers=dict(zip(tiers["tier"].to_list(), tiers["customers"].to_list(), strict=True)),
        unweighted_event_types=unweighted_event_types,
        scores_file=str(Path(scores_file)),
        contributions_file=str(Path(contributions_file)),
    )


ScoreTables = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
"""scores, contributions and the unweighted event types' counts."""


def keyed_tables(events: pl.LazyFrame, config: ScoringConfig, run_date: date) -> ScoreTables | None:
    """The score tables by 64-bit keys (scoring.keyed): the window's events read once into
    memory and grouped by key, the customers seen only before it found by an anti-join. None
    when a key did not tell two ids apart (then score by text: window_totals)."""
    in_window = window_events(events, config, run_date).collect()
    pairs = told_apart_pairs(window_pairs(in_window.lazy(), config, run_date), in_window)
    del in_window  # the window's events are no longer needed: free them before the history
    if pairs is None:
        return None
    known = window_customers(pairs.lazy()).collect()
    before = customers_before_window(events, known, config, run_date).collect()
    customer_ids = pl.concat([known.get_column("customer_id"), before["customer_id"]]).sort()
    order = customer_order(customer_ids)
    if not keys_told_apart(pl.LazyFrame({"customer_id": customer_ids})).collect().item():
        return None
    event_types = pairs.get_column("event_type").unique().sort().to_list()
    ranked = ranked_pairs(pairs.lazy(), order, event_types, config).collect().lazy()
    scores, contributed, unweighted = pl.collect_all(
        [
            keyed_scores(ranked, before.lazy(), order, customer_ids, config),
            keyed_contributions(ranked, customer_ids, event_types),
            keyed_unweighted(pairs.lazy(), config),
        ]
    )
    return scores, contributed, unweighted


def window_totals_of_days(
    daily: pl.LazyFrame, config: ScoringConfig, run_date: date
) -> pl.DataFrame:
    """The window's totals (scoring.aggregates.WINDOW_TOTALS) of its days' daily event counts
    (`daily`): by 64-bit keys (scoring.keyed.daily_pairs), else by the text ids when a key
    did not tell two pairs apart."""
    rows = daily.collect()
    pairs = told_apart_pairs(daily_pairs(rows.lazy(), config, run_date), rows)
    if pairs is not None:
        return pairs.select(list(WINDOW_TOTALS))
    return window_totals_from_daily(rows.lazy(), config, run_date).collect()


def counted_period_totals(days: PanelDays, config: ScoringConfig, run_date: date) -> PeriodTotals:
    """The window's totals and the previous period's (of the weighted types: the others add
    nothing) from the daily counts of their days."""
    window = window_totals_of_days(days.event_counts, config, run_date)
    previous_run = day_ranges(config, run_date)["previous"][1]
    weighted = weighted_counts(days.previous_counts, config)
    return PeriodTotals(window, window_totals_of_days(weighted, config, previous_run))


def score_tables(events: pl.LazyFrame, config: ScoringConfig, run_date: date) -> ScoreTables:
    """The score tables of the events: by 64-bit keys (keyed_tables), else by text ids."""
    tables = keyed_tables(events, config, run_date)
    return tables if tables is not None else text_tables(events, config, run_date)


def text_tables(events: pl.LazyFrame, config: ScoringConfig, run_date: date) -> ScoreTables:
    """The score tables of the events grouped by their text ids (window_totals)."""
    totals = window_totals(events, config, run_date).collect().lazy()
    scores, contributed, unweighted = pl.collect_all(
        [
            customer_scores_from_totals(totals, config),
            contributions_from_totals(totals, config),
            unweighted_event_types_from_totals(totals, config),
        ]
    )
    return scores, contributed, unweighted


def type_counts(counts: pl.DataFrame) -> dict[str, int]:
    """event_type -> count of a frame with those two columns."""
    return dict(zip(counts["event_type"].to_list(), counts["count"].to_list(), strict=True))


def score_events(
    events: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    staging: str,
    keep_totals: bool = False,
) -> ScoreReport:
    """Score valid events in one streaming pass (per customer and type totals), then stage.

    keep_totals: the pass also computes what the metric panel needs from the history
    (scoring.aggregates.event_type_totals), the scores' group-by also the panel's per-customer
    totals (scoring.metrics.panel_inputs.customer_totals), staged as TOTALS_FILE (`totals_file`)."""
    if not keep_totals:
        scores, contributed, unweighted = score_tables(events, config, run_date)
        return stage_scores(scores, contributed, type_counts(unweighted), staging, run_date)
    totals = event_type_totals(events, config, run_date).collect()
    # the metric vocabulary's types that never occurred are constants, not conditional sums
    present = totals["event_type"].unique().to_list()
    panel_totals = customer_totals(totals.lazy(), config, run_date, present)
    return score_totals(totals, None, config, run_date, staging, panel_totals)


@task(name="score-customers", cache_policy=NO_CACHE, persist_result=False)
def score_customers(
    valid: StagedEvents,
    config: ScoringConfig,
    run_date: date,
    staging: str,
    keep_totals: bool = False,
) -> ScoreReport:
    """Score every customer for the run date from the valid events (in memory, or their
    staged file) and stage scores and contributions (and the totals the metric panel reuses,
    with keep_totals)."""
    return score_events(events_of(valid), config, run_date, staging, keep_totals)


@task(name="score-from-aggregates", cache_policy=NO_CACHE, persist_result=False)
def score_from_aggregates(
    output: str, config: ScoringConfig, run_date: date, staging: str, keep_totals: bool = False
) -> ScoreReport:
    """Score every customer for the run date from the daily aggregate store only. With
    keep_totals (a store holding the metric panel's tables), the scores come from the panel's
    per-customer totals of the days (scoring.metrics.panel_days.customer_totals_of_days),
    staged as TOTALS_FILE as score_events stages them; the window's and previous period's
    totals slid from the day before's when they can be (tasks.score.running_totals)."""
    with store_read(output):
        if not keep_totals:
            totals, last_events = window_totals_from_store(output, config, run_date)
            return score_totals(totals, last_events, config, run_date, staging)
        days = panel_days_from_store(output, config, run_date)
        periods = period_totals(output, config, run_date, days, counted_period_totals)
        panel_totals = customer_totals_of_days(
            days, config, run_date, periods.window.lazy(), periods.previous.lazy()
        )
        return score_totals(periods.window, None, config, run_date, staging, panel_totals)
