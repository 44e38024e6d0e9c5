"""Evidence per follow-up rule at every observation date (scoring.backtest.evidence), wired over
the dates: the frames every date shares are computed once, then each date's rules are run."""

from collections.abc import Sequence
from datetime import date

import polars as pl

from scoring.backtest.evidence import (
    KEYS,
    metric_snapshot_on,
    needs_metrics,
    rule_evidence,
    rule_matches_on,
)
from scoring.backtest.figures import with_all_period
from scoring.backtest.observations import OBSERVATION_DATE, first_event_dates, last_event_dates
from scoring.backtest.scored import scores_before, window_counts
from scoring.config import ScoringConfig
from scoring.followup_config import FollowupsConfig
from scoring.followups import comparison_days

METRIC_COLUMNS = ("event_id", "value", "feature")
"""Event columns the metric snapshot reads besides customer_id, event_type, occurred_at."""


def _on(frame: pl.DataFrame, day: date) -> pl.LazyFrame:
    return frame.lazy().filter(pl.col(OBSERVATION_DATE) == day).drop(OBSERVATION_DATE)


def rule_matches_over(
    daily: pl.DataFrame,
    current: pl.DataFrame,
    config: ScoringConfig,
    followups: FollowupsConfig,
    dates: Sequence[date],
    metric_events: pl.DataFrame | None,
    plans: pl.DataFrame | None,
) -> pl.DataFrame:
    """Every (observation, rule) that holds on its date: observation_date, customer_id, rule,
    kind. `current`: the observations scored with the configuration (score, tier)."""
    lazy, keys = daily.lazy(), current.lazy().select(KEYS)
    days = sorted({1, *comparison_days(followups)})
    first = first_event_dates(lazy)
    *earlier, counts, last = pl.collect_all(
        [scores_before(lazy, keys, config, dates, n, first) for n in days]
        + [window_counts(lazy, keys, config, dates), last_event_dates(lazy, keys)]
    )
    today = current.select(*KEYS, "score", "tier").join(last, on=KEYS, how="left")
    # the metric snapshot only for rules that read it, from events that carry its columns
    metrics = metric_events.lazy() if metric_events is not None else None
    if not needs_metrics(followups):
        metrics = None
    per_date = [
        rule_matches_on(
            day,
            _on(today, day),
            {n: _on(frame, day) for n, frame in zip(days, earlier, strict=True)},
            _on(counts, day),
            followups,
            metric_snapshot_on(metrics, config, day) if metrics is not None else None,
            plans.lazy() if plans is not None else None,
        )
        for day in dates
    ]
    return pl.concat(pl.collect_all(per_date))


def rule_evidence_table(
    daily: pl.DataFrame,
    current: pl.DataFrame,
    config: ScoringConfig,
    dates: Sequence[date],
    metric_events: pl.DataFrame | None = None,
    plans: pl.DataFrame | None = None,
) -> pl.DataFrame | None:
    """Per rule and kind, per period (train, gap, test, all) pooled (observation_date null)
    and per date: flags, precision, lift and coverage (scoring.backtest.evidence). None
    without follow-up rules. `current`: observation_date, period, customer_id, score, tier,
    churned of the configuration as it is."""
    followups = config.followups
    if followups is None or not followups.rules:
        return None
    matches = rule_matches_over(
        daily, current, config, followups, dates, metric_events, plans
    ).lazy()
    rules = [(rule.name, rule.kind) for rule in followups.rules]
    observed = current.lazy().select("period", *KEYS, "churned")
    per_date = rule_evidence(matches, observed, rules, ["period", OBSERVATION_DATE])
    pooled = rule_evidence(matches, with_all_period(observed), rules, ["period"]).with_columns(
        pl.lit(None, pl.Date).alias(OBSERVATION_DATE)
    )
    columns = per_date.collect_schema().names()
    return pl.concat([pooled.select(columns), per_date]).collect()
