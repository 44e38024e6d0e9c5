"""Surveys: CSAT, NPS and the customer effort score (`effort_score`; "CES" is the score).

Answers off their scale (NPS outside 0-10, CSAT outside 1..csat_scale_max, effort outside
1..effort_scale) or missing are not responses.
"""

import polars as pl

from scoring.config import MetricsConfig
from scoring.metrics.rates import count_of, percent, ratio, sum_where

PROMOTER_MIN = 9
DETRACTOR_MAX = 6


def _answers(event_type: str, low: float, high: float) -> pl.Expr:
    return (pl.col("event_type") == event_type) & pl.col("value").is_between(low, high)


def survey_answers(config: MetricsConfig) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(csat, nps, effort): whether an event is an answer on its survey's scale."""
    return (
        _answers(config.csat_event, 1, config.csat_scale_max),
        _answers(config.nps_event, 0, 10),
        _answers(config.effort_event, 1, config.effort_scale),
    )


def survey_answer_counts(config: MetricsConfig) -> list[pl.Expr]:
    """Aggregations over events: csat_responses, csat_satisfied, nps_responses, nps_promoters,
    nps_detractors and effort_responses (the additive survey counts)."""
    csat, nps, effort = survey_answers(config)
    value = pl.col("value")
    return [
        count_of(csat).alias("csat_responses"),
        count_of(csat & (value >= config.csat_satisfied_min)).alias("csat_satisfied"),
        count_of(nps).alias("nps_responses"),
        count_of(nps & (value >= PROMOTER_MIN)).alias("nps_promoters"),
        count_of(nps & (value <= DETRACTOR_MAX)).alias("nps_detractors"),
        count_of(effort).alias("effort_responses"),
    ]


def latest_nps(config: MetricsConfig, of: pl.Expr) -> pl.Expr:
    """Aggregation over events: `of` (an expression over the events) at the latest NPS answer
    (ties on time broken by event_id); null without one."""
    nps = survey_answers(config)[1]
    return (
        of.filter(nps)
        .sort_by(pl.col("occurred_at").filter(nps), pl.col("event_id").filter(nps))
        .last()
    )


def survey_counts(window_events: pl.LazyFrame, config: MetricsConfig) -> pl.LazyFrame:
    """Per customer with a survey answer in the window: csat_responses, csat_satisfied,
    nps_responses, nps_promoters, nps_detractors, effort_responses, effort_total and
    nps_response (the latest NPS answer; ties broken by event_id)."""
    csat, nps, effort = survey_answers(config)
    return (
        window_events.filter(csat | nps | effort)
        .group_by("customer_id")
        .agg(
            *survey_answer_counts(config),
            sum_where(pl.col("value"), effort).alias("effort_total"),
            latest_nps(config, pl.col("value")).alias("nps_response"),
        )
    )


def csat(satisfied: pl.Expr, responses: pl.Expr) -> pl.Expr:
    """CSAT = satisfied answers (4 or 5 on 1-5) / responses x 100. 40 of 50 -> 80."""
    return percent(satisfied, responses)


def nps(promoters: pl.Expr, detractors: pl.Expr, responses: pl.Expr) -> pl.Expr:
    """NPS = % promoters (9-10) - % detractors (0-6), in [-100, 100]. 50 % - 10 % -> 40."""
    return percent(promoters - detractors, responses)


def effort_score(total: pl.Expr, responses: pl.Expr) -> pl.Expr:
    """Customer effort score = mean answer (lower is better)."""
    return ratio(total, responses)


def nps_category(answer: pl.Expr) -> pl.Expr:
    """promoter (9-10), passive (7-8), detractor (0-6); null without an answer."""
    return (
        pl.when(answer >= PROMOTER_MIN)
        .then(pl.lit("promoter"))
        .when(answer > DETRACTOR_MAX)
        .then(pl.lit("passive"))
        .when(answer.is_not_null())
        .then(pl.lit("detractor"))
    )
