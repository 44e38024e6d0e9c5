"""The backtest's computation over valid events: observe churn, tune the configuration, score
point in time under the compared weight sets, and every figure (no I/O).

The rules are in `scoring.backtest` (pure Polars) and the fit in `tasks.backtest.calibrate` /
`tasks.backtest.tuning`; this module wires them over the observation dates, from the daily
event counts (scoring.aggregates.daily_event_counts, computed once).
"""

from dataclasses import dataclass
from datetime import date

import polars as pl

from scoring.aggregates import EVENT_DATE, daily_event_counts
from scoring.backtest.calibration import Calibration
from scoring.backtest.diagnostics import (
    churn_rate_warnings,
    churner_warnings,
    grid_edge_warnings,
    most_frequent_type_warning,
    unmatched_labels_warning,
)
from scoring.backtest.features import candidate_settings
from scoring.backtest.figures import roc_auc, roc_curve, tier_churn, with_all_period
from scoring.backtest.observations import (
    OBSERVATION_DATE,
    OBSERVED_UNTIL,
    beyond_observation,
    dates_with_full_horizon,
    dropped_per_date,
    outside_labels,
    silence_labels,
    without_history,
)
from scoring.backtest.outcome import BacktestTables
from scoring.backtest.scored import weight_set_scores, with_tiers
from scoring.backtest.split import TimeSplit, split_in_time
from scoring.backtest.tiers import suggested_tiers
from scoring.config import ScoringConfig
from tasks.backtest.inputs import BacktestInputError, observed_until_of
from tasks.backtest.rules import METRIC_COLUMNS, rule_evidence_table
from tasks.backtest.tuning import calibrate, uniform_weights

MAX_SEGMENT_VALUES = 20


def customer_segments(customers: pl.DataFrame, source: str) -> tuple[pl.DataFrame, list[str]]:
    """(customer_id, segment, segment_value) for every column with 2..MAX_SEGMENT_VALUES
    distinct values (observed_until is not a segment), and the skipped columns. The first row
    of a repeated customer_id wins."""
    if "customer_id" not in customers.columns:
        raise BacktestInputError(
            f"{source}: the customers table needs a customer_id column "
            f"(found: {', '.join(customers.columns) or 'none'})"
        )
    table = customers.drop(OBSERVED_UNTIL, strict=False).with_columns(pl.all().cast(pl.String))
    table = table.unique("customer_id", keep="first", maintain_order=True)
    columns = [c for c in table.columns if c != "customer_id"]
    usable = [c for c in columns if 2 <= table[c].n_unique() <= MAX_SEGMENT_VALUES]
    skipped = [c for c in columns if c not in usable]
    schema = {"customer_id": pl.String, "segment": pl.String, "segment_value": pl.String}
    if not usable:
        return pl.DataFrame(schema=schema), skipped
    long = table.unpivot(
        index="customer_id", on=usable, variable_name="segment", value_name="segment_value"
    ).with_columns(pl.col("segment_value").fill_null("(missing)"))
    return long.select(list(schema)), skipped


@dataclass(frozen=True)
class Observed:
    """The labelled observations and what was left out."""

    observations: pl.DataFrame
    """observation_date, customer_id, churned (within every customer's observation)."""
    dates: list[date]
    dropped_dates: list[date]
    empty_dates: list[date]
    beyond: pl.DataFrame
    """observation_date, dropped: observations whose horizon ran past observed_until."""


def observe(
    daily: pl.DataFrame,
    config: ScoringConfig,
    dates: list[date],
    horizon_days: int,
    labels: pl.DataFrame | None,
    observed_until: pl.DataFrame | None,
) -> Observed:
    """Silence labels of the dates with a full horizon (or the outside labels of the dates),
    without the observations that run past the customer's observed_until."""
    lazy = daily.lazy()
    if labels is None:
        last_event_date: date = daily[EVENT_DATE].max()  # type: ignore[assignment]
        covered = dates_with_full_horizon(dates, last_event_date, horizon_days)
        churn_types = config.backtest_settings.churn_event_types
        found = silence_labels(lazy, covered, config.window_days, horizon_days, churn_types)
        found = found.with_columns(pl.lit(None, pl.Date).alias(OBSERVED_UNTIL))
    else:
        covered = dates
        found = outside_labels(labels.lazy(), dates).join(
            labels.lazy().select("customer_id", OBSERVATION_DATE, OBSERVED_UNTIL),
            on=["customer_id", OBSERVATION_DATE],
            how="left",
        )
    if observed_until is not None:
        by_customer = observed_until.lazy().rename({OBSERVED_UNTIL: "customer_until"})
        found = found.join(by_customer, on="customer_id", how="left").with_columns(
            pl.coalesce(OBSERVED_UNTIL, "customer_until").alias(OBSERVED_UNTIL)
        )
    observations, beyond = pl.collect_all(
        [
            found.filter(~beyond_observation(horizon_days)).select(
                OBSERVATION_DATE, "customer_id", "churned"
            ),
            dropped_per_date(found, horizon_days),
        ]
    )
    labelled = set(observations[OBSERVATION_DATE].unique().to_list())
    return Observed(
        observations=observations,
        dates=[d for d in covered if d in labelled],
        dropped_dates=[d for d in dates if d not in covered],
        empty_dates=[d for d in covered if d not in labelled],
        beyond=beyond,
    )


def time_split_of(
    observed: Observed, horizon_days: int, daily: pl.DataFrame
) -> tuple[TimeSplit, list[str]]:
    """The split of the usable dates (scoring.backtest.split), or an error naming the fix."""
    split, notes = split_in_time(observed.dates, horizon_days)
    if split is None:
        usable = observed.dates
        last = daily[EVENT_DATE].max() if daily.height else None
        raise BacktestInputError(
            f"cannot split {len(usable)} usable observation date(s) in time "
            f"({', '.join(map(str, usable)) or 'none'}; last event on {last}"
            + (
                f"; {len(observed.dropped_dates)} date(s) dropped: horizon beyond the data"
                if observed.dropped_dates
                else ""
            )
            + "): at least two observation dates with observed customers (and, without "
            "--labels, a full horizon) are needed; widen --from/--to, lower --every or --horizon"
        )
    return split, notes


def suggested_configuration(
    config: ScoringConfig, calibration: Calibration, scored: pl.DataFrame, split: TimeSplit
) -> tuple[ScoringConfig, str]:
    """The configuration with the chosen weights and setting and suggested tier boundaries
    (scoring.backtest.tiers, from the chosen scores of the training dates; rank-based tiers
    are kept as configured). Returns it and a sentence on its tiers."""
    chosen = compared_configs(config, calibration)["suggested"]
    chosen = ScoringConfig.model_validate(chosen.model_dump())
    if config.tier_boundaries.quantiles is not None:
        return chosen, "rank-based tiers (tiers.quantiles) kept as configured"
    train = scored.filter(
        (pl.col("weights") == "suggested")
        & pl.col(OBSERVATION_DATE).is_in(pl.Series(split.train, dtype=pl.Date).implode())
    )
    if not train.height:
        return chosen, "no training observation: tiers kept"
    boundaries, note = suggested_tiers(train.select("score", "churned"))
    return chosen.model_copy(update={"tiers": boundaries}), note


def figures(observations: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(AUC, tiers, ROC points) per weights x period x date, and pooled per period
    (observation_date null; period `all` pools every date)."""
    obs = observations.lazy()
    per_date = ["weights", OBSERVATION_DATE, "period"]
    pooled = with_all_period(obs)
    null_date = pl.lit(None, pl.Date).alias(OBSERVATION_DATE)
    columns = ["weights", "period", OBSERVATION_DATE]
    auc = pl.concat(
        [
            roc_auc(obs, per_date).select(*columns, pl.exclude(columns)),
            roc_auc(pooled, ["weights", "period"])
            .with_columns(null_date)
            .select(*columns, pl.exclude(columns)),
        ]
    )
    tiers = pl.concat(
        [
            tier_churn(obs, per_date).select(*columns, pl.exclude(columns)),
            tier_churn(pooled, ["weights", "period"])
            .with_columns(null_date)
            .select(*columns, pl.exclude(columns)),
        ]
    )
    auc_frame, tiers_frame, roc = pl.collect_all(
        [auc, tiers, roc_curve(pooled, ["weights", "period"])]
    )
    return auc_frame, tiers_frame, roc


def segment_figures(
    observations: pl.DataFrame, customers: pl.DataFrame | None, source: str
) -> tuple[pl.DataFrame | None, pl.DataFrame | None, list[str]]:
    """(AUC, tiers) per segment value pooled per period, and the skipped customer columns."""
    if customers is None:
        return None, None, []
    segments, skipped = customer_segments(customers, source)
    if not segments.height:
        return None, None, skipped
    joined = with_all_period(observations.lazy()).join(
        segments.lazy(), on="customer_id", how="inner"
    )
    by = ["weights", "period", "segment", "segment_value"]
    auc, tiers = pl.collect_all([roc_auc(joined, by), tier_churn(joined, by)])
    return auc, tiers, skipped


def backtest_warnings(
    calibration: Calibration,
    config: ScoringConfig,
    daily: pl.DataFrame,
    auc: pl.DataFrame,
    observed: Observed,
    labelled: bool,
) -> list[str]:
    """The warnings of scoring.backtest.diagnostics, then the fit's own."""
    current = auc.filter(pl.col("weights") == "current")
    per_period = current.filter(pl.col(OBSERVATION_DATE).is_null()).select(
        "period", "customers", "churned"
    )
    per_date = current.filter(pl.col(OBSERVATION_DATE).is_not_null()).select(
        OBSERVATION_DATE, "customers", "churned"
    )
    occurrences = dict(daily.group_by("event_type").agg(pl.col("count").sum()).iter_rows())
    settings = candidate_settings(config, config.backtest_settings)
    return [
        *grid_edge_warnings(calibration.choice, settings, calibration.regularization_c),
        *(
            most_frequent_type_warning(calibration.weights, occurrences)
            if calibration.fitted
            else []
        ),
        *churner_warnings(per_period, config.backtest_settings.min_churners),
        *churn_rate_warnings(per_date, per_period),
        *(unmatched_labels(observed, daily) if labelled else []),
        *calibration.warnings,
    ]


def unmatched_labels(observed: Observed, daily: pl.DataFrame) -> list[str]:
    """The warning on labelled customers without events (diagnostics.unmatched_labels_warning)."""
    missing = without_history(observed.observations.lazy(), daily.lazy()).collect().height
    return unmatched_labels_warning(observed.observations.height, missing)


def compared_configs(config: ScoringConfig, calibration: Calibration) -> dict[str, ScoringConfig]:
    """The weight sets compared: current (as given), suggested (the chosen weights, window
    and half-life; tiers follow) and uniform (weight 1 for every configured type)."""
    return {
        "current": config,
        "suggested": calibration.setting.applied_to(config).model_copy(
            update={"weights": calibration.weights}
        ),
        "uniform": config.model_copy(update={"weights": uniform_weights(config)}),
    }


def with_periods(observed: Observed, split: TimeSplit) -> pl.DataFrame:
    """The observations with their period (train, gap, test)."""
    periods = pl.DataFrame(
        {OBSERVATION_DATE: observed.dates, "period": [split.period_of(d) for d in observed.dates]}
    )
    return observed.observations.join(periods, on=OBSERVATION_DATE, how="inner")


def compute_backtest(
    events: pl.DataFrame,
    config: ScoringConfig,
    dates: list[date],
    horizon_days: int,
    customers: pl.DataFrame | None = None,
    customers_source: str = "customers",
    labels: pl.DataFrame | None = None,
    labels_source: str | None = None,
) -> BacktestTables:
    """Every backtest figure for valid, de-duplicated `events` over the observation dates (with
    `labels`: the labels' dates among them)."""
    if events.height == 0:
        raise BacktestInputError("no valid events to backtest")
    daily = daily_event_counts(events.lazy()).collect()
    until = observed_until_of(customers, customers_source)
    observed = observe(daily, config, dates, horizon_days, labels, until)
    split, notes = time_split_of(observed, horizon_days, daily)
    calibration = calibrate(daily.lazy(), observed.observations, split, horizon_days, config)
    configs = compared_configs(config, calibration)
    labelled = with_periods(observed, split).lazy()
    scored = weight_set_scores(daily.lazy(), labelled, configs, observed.dates).collect()
    suggested, tier_note = suggested_configuration(config, calibration, scored, split)
    observations = with_tiers(scored.lazy(), configs | {"suggested": suggested}).collect()
    auc, tiers, roc = figures(observations)
    segment_auc, segment_tiers, skipped = segment_figures(observations, customers, customers_source)
    current = observations.filter(pl.col("weights") == "current")
    evidence = rule_evidence_table(
        daily, current, config, observed.dates, metric_events(events, config), plans_of(customers)
    )
    return BacktestTables(
        observations=observations,
        auc=auc,
        tiers=tiers,
        roc=roc,
        weights=calibration.table(),
        segment_auc=segment_auc,
        segment_tiers=segment_tiers,
        calibration=calibration,
        split=split,
        suggested_config=suggested,
        current_config=config,
        labels_source=labels_source or "silence",
        beyond_observation=observed.beyond,
        rule_evidence=evidence,
        tier_note=tier_note,
        dropped_dates=observed.dropped_dates,
        empty_dates=observed.empty_dates,
        skipped_segment_columns=skipped,
        notes=notes + calibration.notes,
        warnings=backtest_warnings(
            calibration, config, daily, auc, observed, labelled=labels is not None
        ),
    )


def metric_events(events: pl.DataFrame, config: ScoringConfig) -> pl.DataFrame | None:
    """The survey and feature events the follow-up rules' metric snapshot reads (None when
    the events lack their columns)."""
    if not set(METRIC_COLUMNS) <= set(events.columns):
        return None
    metrics = config.metric_settings
    types = [metrics.nps_event, metrics.effort_event, metrics.csat_event, metrics.feature_event]
    return events.filter(pl.col("event_type").is_in(types))


def plans_of(customers: pl.DataFrame | None) -> pl.DataFrame | None:
    """customer_id, plan of a customers table with a plan column."""
    if customers is None or "plan" not in customers.columns:
        return None
    return customers.select(pl.col("customer_id").cast(pl.String), pl.col("plan").cast(pl.String))
