"""Evidence per follow-up rule: would the configured rules have flagged the customers who churned?

At every observation date D, the rules of the configuration's `followups` section are evaluated
point in time with scoring.followups (rule_matches on followup_evidence), as a daily run on D
would: the scores and tiers as of D, score_drop / tier_fell against the scores of D - 1 (the
previous daily run) or of D - days_ago, days_inactive from the last event on or before D, the
metric snapshot (NPS, effort, feature adoption) of D's window and the plan from the customers
table. A rule *flags* an observation when it holds on D (the cool-down, which only silences
repeated notifications, is not applied).

Per rule, and per kind (`any at_risk rule`, `any upsell_ready rule`), over the observations of
a date or a period:

    precision = churned among flagged / flagged          (the churn rate of the flagged)
    lift      = precision / base churn rate              (above 1: the rule finds churners)
    coverage  = churned among flagged / churned          (the share of churners it catches)
"""

from collections.abc import Sequence
from datetime import date

import polars as pl

from scoring.backtest.observations import OBSERVATION_DATE
from scoring.config import ScoringConfig
from scoring.engagement import Window, events_in_window
from scoring.followup_config import (
    FollowupsConfig,
    NpsDetractor,
    PoorEffort,
    PromoterAdoption,
)
from scoring.followups import followup_evidence, rule_matches
from scoring.history import score_deltas
from scoring.metrics.adoption import feature_users
from scoring.metrics.surveys import effort_score, survey_counts
from scoring.schema import UTC_TIMESTAMP

KEYS = [OBSERVATION_DATE, "customer_id"]
METRIC_CONDITIONS = (NpsDetractor, PoorEffort, PromoterAdoption)
MATCHES = pl.Schema(
    {
        OBSERVATION_DATE: pl.Date(),
        "customer_id": pl.String(),
        "rule": pl.String(),
        "kind": pl.String(),
    }
)


def needs_metrics(followups: FollowupsConfig) -> bool:
    """Whether a rule reads the metric snapshot (NPS, effort, feature adoption)."""
    return any(isinstance(rule.when, METRIC_CONDITIONS) for rule in followups.rules)


def metric_snapshot_on(events: pl.LazyFrame, config: ScoringConfig, day: date) -> pl.LazyFrame:
    """The metrics the rules read, from the window ending on `day` as the metric panel computes
    them: customer_id, nps_response (latest answer), effort_score (mean answer), features_used
    (distinct features) and feature_adoption_pct = features_used / catalogue x 100 (catalogue:
    `metrics.features`, else the features used by anyone in the window). `events` need
    event_id, value and feature besides the usual columns."""
    window_events = events_in_window(events, Window.ending_on(day, config.window_days))
    surveys = survey_counts(window_events, config.metric_settings).select(
        "customer_id",
        "nps_response",
        effort_score(pl.col("effort_total"), pl.col("effort_responses")).alias("effort_score"),
    )
    used = feature_users(window_events, config)
    catalogue = config.metric_settings.features
    size = pl.lit(len(catalogue)) if catalogue is not None else pl.col("feature").n_unique()
    features = used.group_by("customer_id").agg(pl.len().cast(pl.Int64).alias("features_used"))
    adoption = features.join(used.select(size.alias("catalogue")), how="cross").with_columns(
        (pl.col("features_used") * 100 / pl.col("catalogue")).alias("feature_adoption_pct")
    )
    return surveys.join(adoption.drop("catalogue"), on="customer_id", how="full", coalesce=True)


def rule_matches_on(
    day: date,
    today: pl.LazyFrame,
    earlier: dict[int, pl.LazyFrame],
    contributions: pl.LazyFrame,
    followups: FollowupsConfig,
    metrics: pl.LazyFrame | None = None,
    plans: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """The (customer, rule) pairs that hold on `day` (MATCHES columns).

    `today`: customer_id, score, tier, last_event_date of the observed customers; `earlier[n]`:
    customer_id, score, tier as of day - n for n = 1 (the previous run) and every `days_ago`
    of the rules; `contributions`: customer_id, event_type, count in the window."""
    scores = today.with_columns(
        pl.col("last_event_date")
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
        .cast(UTC_TIMESTAMP)
        .alias("last_event_at")
    )
    deltas = score_deltas(scores.select("customer_id", "score", "tier"), earlier.get(1))
    evidence = followup_evidence(deltas, scores, day, metrics, plans)
    return rule_matches(evidence, contributions, followups, earlier).select(
        pl.lit(day).alias(OBSERVATION_DATE), "customer_id", "rule", "kind"
    )


def kind_matches(matches: pl.LazyFrame) -> pl.LazyFrame:
    """The matches plus one row per observation and kind, rule = `any <kind> rule`."""
    any_rule = (
        matches.select(*KEYS, "kind")
        .unique()
        .with_columns(pl.format("any {} rule", pl.col("kind")).alias("rule"))
    )
    return pl.concat([matches.select(list(MATCHES)), any_rule.select(list(MATCHES))])


def every_rule(rules: Sequence[tuple[str, str]]) -> pl.LazyFrame:
    """rule, kind: the rules (name, kind) and one `any <kind> rule` per kind."""
    kinds = sorted({kind for _, kind in rules})
    return pl.LazyFrame(
        {
            "rule": [name for name, _ in rules] + [f"any {kind} rule" for kind in kinds],
            "kind": [kind for _, kind in rules] + kinds,
        },
        schema={"rule": pl.String, "kind": pl.String},
    )


def rule_evidence(
    matches: pl.LazyFrame,
    observations: pl.LazyFrame,
    rules: Sequence[tuple[str, str]],
    by: Sequence[str],
) -> pl.LazyFrame:
    """Per group of observations (`by`: e.g. period, or period and observation_date) and rule
    (every rule of `rules` = (name, kind) and every kind): observations, churned,
    base_churn_rate, flagged, flagged_churned, precision, lift, coverage (null when undefined).
    `observations`: *by, observation_date, customer_id, churned."""
    groups = observations.group_by(by).agg(
        pl.len().cast(pl.Int64).alias("observations"),
        pl.col("churned").sum().cast(pl.Int64).alias("churned"),
    )
    flagged = (
        kind_matches(matches)
        .join(observations, on=KEYS, how="inner")
        .group_by(*by, "rule")
        .agg(
            pl.len().cast(pl.Int64).alias("flagged"),
            pl.col("churned").sum().cast(pl.Int64).alias("flagged_churned"),
        )
    )
    base = pl.col("churned") / pl.col("observations")
    precision = pl.col("flagged_churned") / pl.col("flagged")
    return (
        groups.join(every_rule(rules), how="cross")
        .join(flagged, on=[*by, "rule"], how="left")
        .with_columns(pl.col("flagged", "flagged_churned").fill_null(0))
        .with_columns(
            base.alias("base_churn_rate"),
            pl.when(pl.col("flagged") > 0).then(precision).alias("precision"),
        )
        .with_columns(
            pl.when(pl.col("base_churn_rate") > 0)
            .then(pl.col("precision") / pl.col("base_churn_rate"))
            .alias("lift"),
            pl.when(pl.col("churned") > 0)
            .then(pl.col("flagged_churned") / pl.col("churned"))
            .alias("coverage"),
        )
        .select(
            "rule",
            "kind",
            *by,
            "observations",
            "churned",
            "base_churn_rate",
            "flagged",
            "flagged_churned",
            "precision",
            "lift",
            "coverage",
        )
        .sort(*by, "kind", "rule")
    )
