"""The metric panel from daily aggregates: what each metric needs of the events, kept per
customer and UTC day (per input file, in the daily aggregate store of an incremental run), and
the panel's totals and window frames rebuilt from those days exactly as from the events.

Daily tables (each a pure function of one input file's valid events, rows keyed by event_date):

    customer_days   per customer and day: survey counts, the day's latest NPS answer, page-view
                    counts and sums, and the counts of the day's sessions taken on their own
    session_days    per customer, session and day: the session's page views (count, timed,
                    seconds, scrolled, scroll), its last view (time, id, page), interactions
    page_days       per customer, page and day: views, and exits of the day's own sessions
    feature_days    the distinct (customer, feature) pairs of each day
    purchase_days   per customer and day: valued purchases and their amount
    type_days       per customer, day and history event type (and any event): latest event
    attribute_days  per customer, day and attribute event column: latest non-null value

`type_days` and `attribute_days` are also merged over the whole store into running tables
(first_days, app_latest, attribute_history): the first day of each customer and type, the
latest app install and uninstall, the latest attribute values, which a window's days alone do
not give; the store's last_events gives each customer's latest event.

Metrics that cannot be split by day, and how each is handled:

- sessions (their count, single-view, timed and bounced sessions, exit pages): a session may
  run across midnight or reuse its id on any later day. Each day counts its sessions as if
  they ended that day; the sessions with more than one row in the window's session_days
  (found by a 64-bit hash of the session, then merged by their ids, so a hash collision only
  costs an exact merge) replace their per-day counts by those of the merged session;
- the latest NPS answer, the latest value of an event attribute, the latest app install and
  uninstall and the event-id tie-break between them: each day keeps its latest (time, event
  id), the latest of those wins;
- distinct features and active days: distinct per day, then distinct over the days;
- first-week engagement: whole days from the signup date, from the daily event counts;
- the previous period's score: the daily counts of the previous window;
- the customer's first event, first page view, signup, cancellations, latest app events and
  attribute values over the whole history: the running history tables;
- CLV: the purchase days of the lookback (365 days by default);
- medians, percentiles and segment tables: over the per-customer rows, after the days are
  combined (never per day).

Sums of floats stay Decimal in the daily tables (rates.EXACT_DECIMALS), so a window sum is
the exact sum of the same per-event values in any order: the panel's bytes do not depend on
how the events were split into days or files.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from scoring.aggregates import (
    EVENT_DATE,
    EVENT_TYPE_TOTALS,
    window_start_date,
    window_totals_from_daily,
)
from scoring.config import MetricsConfig, ScoringConfig
from scoring.engagement import Window, weights_frame
from scoring.metrics import retention, surveys
from scoring.metrics.customer_panel import WindowFrames, customer_signups
from scoring.metrics.panel_inputs import PanelInputs, customer_totals, segment_names
from scoring.metrics.rates import EXACT_DECIMALS, count_of, decimal_sum
from scoring.metrics.segments import attribute_sources, typed_customers
from scoring.metrics.web import SESSION_HASH
from scoring.schema import OPTIONAL_EVENT_COLUMNS, REQUIRED_EVENT_COLUMNS, UTC_TIMESTAMP

DECIMAL = pl.Decimal(38, EXACT_DECIMALS)
DAY = pl.col("occurred_at").dt.date().alias(EVENT_DATE)

SURVEY_COUNTS = (
    "csat_responses", "csat_satisfied", "nps_responses", "nps_promoters", "nps_detractors",
    "effort_responses",
)  # fmt: skip
PAGE_VIEW_COUNTS = (
    "page_views", "timed_page_views", "scrolled_page_views", "session_page_views",
)  # fmt: skip
PAGE_VIEW_SUMS = ("page_seconds", "scroll_total", "session_seconds")
SESSION_COUNTS = ("sessions", "single_sessions", "timed_sessions", "bounced_sessions")

CUSTOMER_DAYS = pl.Schema(
    {
        "customer_id": pl.String(),
        EVENT_DATE: pl.Date(),
        **{name: pl.Int64() for name in SURVEY_COUNTS},
        "effort_total": DECIMAL,
        "nps_at": UTC_TIMESTAMP,
        "nps_event_id": pl.String(),
        "nps_response": pl.Float64(),
        **{name: pl.Int64() for name in PAGE_VIEW_COUNTS},
        **{name: DECIMAL for name in PAGE_VIEW_SUMS},
        **{name: pl.Int64() for name in SESSION_COUNTS},
    }
)
SESSION_DAYS = pl.Schema(
    {
        "customer_id": pl.String(),
        "session_id": pl.String(),
        EVENT_DATE: pl.Date(),
        "session_key": pl.UInt64(),
        "views": pl.Int64(),
        "timed": pl.Int64(),
        "seconds": DECIMAL,
        "scrolled": pl.Int64(),
        "scroll": DECIMAL,
        "last_view_at": UTC_TIMESTAMP,
        "last_view_id": pl.String(),
        "exit_page": pl.String(),
        "interactions": pl.Int64(),
    }
)
PAGE_DAYS = pl.Schema(
    {
        "customer_id": pl.String(),
        "page": pl.String(),
        EVENT_DATE: pl.Date(),
        "views": pl.Int64(),
        "exits": pl.Int64(),
    }
)
FEATURE_DAYS = pl.Schema(
    {"customer_id": pl.String(), "feature": pl.String(), EVENT_DATE: pl.Date()}
)
PURCHASE_DAYS = pl.Schema(
    {
        "customer_id": pl.String(),
        EVENT_DATE: pl.Date(),
        "valued_purchases": pl.Int64(),
        "purchase_amount": DECIMAL,
    }
)
TYPE_DAYS = pl.Schema(
    {
        "customer_id": pl.String(),
        "event_type": pl.String(),
        EVENT_DATE: pl.Date(),
        "last_event_at": UTC_TIMESTAMP,
        "last_event_id": pl.String(),
    }
)
"""Per customer, day and history type (event_type null: any event): the latest event."""
ATTRIBUTE_DAYS = pl.Schema(
    {
        "customer_id": pl.String(),
        "attribute": pl.String(),
        EVENT_DATE: pl.Date(),
        "last_event_at": UTC_TIMESTAMP,
        "last_event_id": pl.String(),
        "value": pl.String(),
    }
)
FIRST_DAYS = pl.Schema(
    {"customer_id": pl.String(), "event_type": pl.String(), "first_day": pl.Date()}
)
"""type_days merged over days: each customer's first day, of any event (event_type null) and of
each history type."""
APP_LATEST = pl.Schema(
    {
        "customer_id": pl.String(),
        "event_type": pl.String(),
        "last_event_at": UTC_TIMESTAMP,
        "last_event_id": pl.String(),
    }
)
"""type_days of the app install and uninstall types merged over days: the latest of each."""
ATTRIBUTE_HISTORY = pl.Schema(
    {
        "customer_id": pl.String(),
        "attribute": pl.String(),
        "last_event_at": UTC_TIMESTAMP,
        "last_event_id": pl.String(),
        "value": pl.String(),
    }
)
"""attribute_days merged over days: each customer's latest value of each attribute."""

_CONTRACT = {c.name for c in REQUIRED_EVENT_COLUMNS + OPTIONAL_EVENT_COLUMNS}


def panel_vocabulary(config: ScoringConfig) -> dict[str, object]:
    """What the daily panel tables depend on besides the events: the metric vocabulary (event
    types, survey scales, the wanted attributes) and the hashes of session ids. Tables built
    under another vocabulary are rebuilt from the input files."""
    metrics = config.metric_settings
    probe = pl.DataFrame({"customer_id": ["engage"], "session_id": ["probe"]})
    return {
        "types": metrics.model_dump(
            include={
                "nps_event",
                "csat_event",
                "csat_scale_max",
                "csat_satisfied_min",
                "effort_event",
                "effort_scale",
                "page_view_event",
                "session_start_event",
                "purchase_event",
                "signup_event",
                "cancellation_events",
                "app_install_event",
                "app_uninstall_event",
                "feature_event",
            },
            mode="json",
        ),
        "attributes": sorted(segment_names(config)),
        "session_hash": probe.select(SESSION_HASH).item(),
    }


def history_types(config: MetricsConfig) -> list[str]:
    """The event types whose first or latest event over the whole history a panel reads: page
    views (visited before), signups, cancellations, app installs and uninstalls."""
    return list(
        dict.fromkeys(
            [
                config.page_view_event,
                config.signup_event,
                *config.cancellation_events,
                config.app_install_event,
                config.app_uninstall_event,
            ]
        )
    )


def _latest_id(at: pl.Expr) -> pl.Expr:
    """Aggregation: the largest event_id among the events at the instant `at` (a per-group
    scalar): the tie-break of the latest event."""
    return pl.col("event_id").filter(pl.col("occurred_at") == at).max()


# ------------------------------------------------------------------ daily tables


def session_days(events: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """SESSION_DAYS: per customer, session (with an id) and day, the session's page views of
    the day (as web.page_sessions aggregates them), its last view and its interactions
    (events other than page views and session starts, web.single_view_interactions)."""
    metrics = config.metric_settings
    event_type = pl.col("event_type")
    page_view = event_type == metrics.page_view_event
    interaction = ~event_type.is_in([metrics.page_view_event, metrics.session_start_event])
    duration, scroll = pl.col("duration_s"), pl.col("scroll_pct")
    last_view = pl.col("occurred_at").filter(page_view).max()
    views_in_order = [pl.col("occurred_at").filter(page_view), pl.col("event_id").filter(page_view)]
    return (
        events.filter(pl.col("session_id").is_not_null() & (page_view | interaction))
        .group_by("customer_id", "session_id", DAY)
        .agg(
            count_of(page_view).alias("views"),
            count_of(page_view & duration.is_not_null()).alias("timed"),
            decimal_sum(pl.when(page_view).then(duration)).alias("seconds"),
            count_of(page_view & scroll.is_not_null()).alias("scrolled"),
            decimal_sum(pl.when(page_view).then(scroll)).alias("scroll"),
            last_view.alias("last_view_at"),
            pl.col("event_id").filter(page_view & (pl.col("occurred_at") == last_view)).max()
            .alias("last_view_id"),
            pl.col("page").filter(page_view).sort_by(*views_in_order).last().alias("exit_page"),
            count_of(interaction).alias("interactions"),
        )
        .with_columns(SESSION_HASH.alias("session_key"))
        .select(list(SESSION_DAYS))
    )  # fmt: skip


def day_sessions(sessions: pl.LazyFrame) -> list[pl.Expr]:
    """Aggregations over session_days rows of one day (or of merged sessions): sessions,
    single_sessions, timed_sessions and bounced_sessions, each session counted once."""
    views = pl.col("views")
    single = views == 1
    return [
        count_of(views > 0).alias("sessions"),
        count_of(single).alias("single_sessions"),
        count_of((views > 0) & (pl.col("timed") > 0)).alias("timed_sessions"),
        count_of(single & (pl.col("interactions") == 0)).alias("bounced_sessions"),
    ]


def customer_days(
    events: pl.LazyFrame, sessions: pl.LazyFrame, config: ScoringConfig
) -> pl.LazyFrame:
    """CUSTOMER_DAYS: per customer and day with a survey answer or a page view: the survey
    counts (surveys.survey_answer_counts), effort_total, the day's latest NPS answer with its
    time and id, the page-view counts and sums (web.web_counts), and the day's `sessions`
    (session_days of the same events) counted as if they ended that day (day_sessions)."""
    metrics = config.metric_settings
    csat, nps, effort = surveys.survey_answers(metrics)
    page_view = pl.col("event_type") == metrics.page_view_event
    in_session = page_view & pl.col("session_id").is_not_null()
    duration, scroll = pl.col("duration_s"), pl.col("scroll_pct")
    counted = (
        events.filter(page_view | csat | nps | effort)
        .group_by("customer_id", DAY)
        .agg(
            *surveys.survey_answer_counts(metrics),
            decimal_sum(pl.when(effort).then(pl.col("value"))).alias("effort_total"),
            surveys.latest_nps(metrics, pl.col("occurred_at")).alias("nps_at"),
            surveys.latest_nps(metrics, pl.col("event_id")).alias("nps_event_id"),
            surveys.latest_nps(metrics, pl.col("value")).alias("nps_response"),
            count_of(page_view).alias("page_views"),
            count_of(page_view & duration.is_not_null()).alias("timed_page_views"),
            count_of(page_view & scroll.is_not_null()).alias("scrolled_page_views"),
            count_of(in_session).alias("session_page_views"),
            decimal_sum(pl.when(page_view).then(duration)).alias("page_seconds"),
            decimal_sum(pl.when(page_view).then(scroll)).alias("scroll_total"),
            decimal_sum(pl.when(in_session).then(duration)).alias("session_seconds"),
        )
    )
    per_day = sessions.group_by("customer_id", EVENT_DATE).agg(day_sessions(sessions))
    return (
        counted.join(per_day, on=["customer_id", EVENT_DATE], how="left")
        .with_columns(pl.col(SESSION_COUNTS).fill_null(0))
        .select(list(CUSTOMER_DAYS))
    )


def page_days(events: pl.LazyFrame, sessions: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """PAGE_DAYS: per customer, page and day, page views (with a page) and the exits of the
    day's `sessions` (session_days) whose last view of the day was of that page."""
    page_view = pl.col("event_type") == config.metric_settings.page_view_event
    exits = (
        sessions.filter((pl.col("views") > 0) & pl.col("exit_page").is_not_null())
        .group_by("customer_id", pl.col("exit_page").alias("page"), EVENT_DATE)
        .agg(pl.len().cast(pl.Int64).alias("exits"))
    )
    return (
        events.filter(page_view & pl.col("page").is_not_null())
        .group_by("customer_id", "page", DAY)
        .agg(pl.len().cast(pl.Int64).alias("views"))
        .join(exits, on=["customer_id", "page", EVENT_DATE], how="left")
        .with_columns(pl.col("exits").fill_null(0))
        .select(list(PAGE_DAYS))
    )


def feature_days(events: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """FEATURE_DAYS: the distinct (customer, feature, day) of feature events with a feature."""
    used = (pl.col("event_type") == config.metric_settings.feature_event) & pl.col(
        "feature"
    ).is_not_null()
    return events.filter(used).select("customer_id", "feature", DAY).unique()


def purchase_days(events: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """PURCHASE_DAYS: per customer and day, its purchases with an amount and their exact sum
    (value.valued_purchase without the lookback, which is whole days)."""
    valued = (pl.col("event_type") == config.metric_settings.purchase_event) & pl.col(
        "amount"
    ).is_not_null()
    return (
        events.filter(valued)
        .group_by("customer_id", DAY)
        .agg(
            pl.len().cast(pl.Int64).alias("valued_purchases"),
            decimal_sum(pl.col("amount")).alias("purchase_amount"),
        )
    )


def type_days(events: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """TYPE_DAYS: per customer and day, its latest event (event_type null) and its latest
    event of each history type (history_types) with the largest event_id at that instant."""
    latest = pl.col("occurred_at").max()
    any_event = (
        events.group_by("customer_id", DAY)
        .agg(latest.alias("last_event_at"))
        .with_columns(
            pl.lit(None, dtype=pl.String).alias("event_type"),
            pl.lit(None, dtype=pl.String).alias("last_event_id"),
        )
    )
    typed = (
        events.filter(pl.col("event_type").is_in(history_types(config.metric_settings)))
        .group_by("customer_id", "event_type", DAY)
        .agg(latest.alias("last_event_at"), _latest_id(latest).alias("last_event_id"))
    )
    return pl.concat([any_event.select(list(TYPE_DAYS)), typed.select(list(TYPE_DAYS))])


def event_attributes(config: ScoringConfig, columns: Iterable[str]) -> list[str]:
    """The wanted attributes (panel_inputs.segment_names) that are event columns (not of the
    event contract) among `columns`."""
    present = set(columns)
    return [n for n in segment_names(config) if n in present and n not in _CONTRACT]


def attribute_days(events: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """ATTRIBUTE_DAYS: per customer, day and attribute event column (event_attributes), its
    latest non-null value as text (ties on time broken by event_id)."""
    parts = [
        events.filter(pl.col(name).is_not_null())
        .group_by("customer_id", DAY)
        .agg(
            pl.col("occurred_at").max().alias("last_event_at"),
            pl.col("event_id").sort_by("occurred_at", "event_id").last().alias("last_event_id"),
            pl.col(name).cast(pl.String).sort_by("occurred_at", "event_id").last().alias("value"),
        )
        .with_columns(pl.lit(name).alias("attribute"))
        .select(list(ATTRIBUTE_DAYS))
        for name in event_attributes(config, events.collect_schema().names())
    ]
    return pl.concat(parts) if parts else pl.LazyFrame(schema=ATTRIBUTE_DAYS)


# ------------------------------------------------------------------ running history tables


def first_days(rows: pl.LazyFrame) -> pl.LazyFrame:
    """FIRST_DAYS of type_days rows: per customer and type (null: any), the first day."""
    return rows.group_by("customer_id", "event_type").agg(
        pl.col(EVENT_DATE).min().alias("first_day")
    )


def merged_first_days(kept: pl.LazyFrame, rows: pl.LazyFrame) -> pl.LazyFrame:
    """The kept FIRST_DAYS with those of new type_days `rows` (first seen, or earlier than
    kept: late events), without grouping the kept rows again."""
    pair = ["customer_id", "event_type"]
    earlier = (
        first_days(rows)
        .join(kept, on=pair, how="left", nulls_equal=True, suffix="_kept")
        .filter(
            pl.col("first_day_kept").is_null() | (pl.col("first_day") < pl.col("first_day_kept"))
        )
        .select(list(FIRST_DAYS))
    )
    return pl.concat([kept.join(earlier, on=pair, how="anti", nulls_equal=True), earlier])


def app_latest(rows: pl.LazyFrame, config: MetricsConfig) -> pl.LazyFrame:
    """APP_LATEST of type_days (or APP_LATEST) rows: per customer and app install or uninstall
    type, the latest event and the largest event_id at its instant."""
    pair = ["customer_id", "event_type"]
    app = rows.filter(
        pl.col("event_type").is_in([config.app_install_event, config.app_uninstall_event])
    ).select(list(APP_LATEST))
    latest = app.group_by(pair).agg(pl.col("last_event_at").max())
    return (
        app.join(latest, on=[*pair, "last_event_at"], how="semi")
        .group_by(*pair, "last_event_at")
        .agg(pl.col("last_event_id").max())
        .select(list(APP_LATEST))
    )


def attribute_history(rows: pl.LazyFrame) -> pl.LazyFrame:
    """ATTRIBUTE_HISTORY of attribute_days (or attribute_history) rows: per customer and
    attribute, the latest value."""
    in_order = [pl.col("last_event_at"), pl.col("last_event_id")]
    return (
        rows.group_by("customer_id", "attribute")
        .agg(
            pl.col("last_event_at").max(),
            pl.col("last_event_id").sort_by(*in_order).last(),
            pl.col("value").sort_by(*in_order).last(),
        )
        .select(list(ATTRIBUTE_HISTORY))
    )


# ------------------------------------------------------------------ the panel from the days


@dataclass(frozen=True)
class PanelDays:
    """The daily tables a run's panel reads, each restricted to the days it needs: the event
    counts (scoring.aggregates.DAILY_EVENT_COUNTS) of the window and of the previous period,
    customer_days, session_days (only the rows of multi_row_sessions matter), page_days and
    feature_days of the window, purchase_days of the CLV lookback, the history tables as of
    the run date (first_days, app_latest, the customers' latest events:
    scoring.aggregates.CUSTOMER_LAST_EVENTS, attribute_history) and the event columns seen."""

    event_counts: pl.LazyFrame
    previous_counts: pl.LazyFrame
    customers: pl.LazyFrame
    sessions: pl.LazyFrame
    pages: pl.LazyFrame
    features: pl.LazyFrame
    purchases: pl.LazyFrame
    first_days: pl.LazyFrame
    app_latest: pl.LazyFrame
    last_events: pl.LazyFrame
    attributes: pl.LazyFrame
    event_columns: tuple[str, ...]


def day_ranges(config: ScoringConfig, run_date: date) -> dict[str, tuple[date, date]]:
    """The first and last day each daily table is read for: window, previous period, lookback."""
    start = window_start_date(run_date, config.window_days)
    previous_end = start - timedelta(days=1)
    lookback = config.metric_settings.clv_lookback_days
    return {
        "window": (start, run_date),
        "previous": (window_start_date(previous_end, config.window_days), previous_end),
        "lookback": (run_date - timedelta(days=lookback - 1), run_date),
    }


def _midnight(day: pl.Expr) -> pl.Expr:
    return day.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def totals_of_days(
    days: PanelDays,
    config: ScoringConfig,
    run_date: date,
    window: pl.LazyFrame | None = None,
    previous: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """EVENT_TYPE_TOTALS rows whose aggregations per customer (panel_inputs.customer_totals)
    equal those of the events' totals (scoring.aggregates.event_type_totals): the window's
    counts (`window`: their window_totals_from_daily, when already computed), the previous
    period's occurrences (of the weighted types: the others add nothing; `previous`: their
    window totals, when already computed), each customer's
    first day and latest event, the history types' first days, the latest app events and the
    lookback's purchases, each in rows of their own (the others 0 or null there)."""
    if window is None:
        window = window_totals_from_daily(days.event_counts, config, run_date)
    previous_run = window_start_date(run_date, config.window_days) - timedelta(days=1)
    previous = window_totals_from_daily(
        days.previous_counts.filter(pl.col("event_type").is_in(list(config.weights))),
        config,
        previous_run,
    ).select("customer_id", "event_type", pl.col("occurrences").alias("previous_occurrences"))
    firsts = days.first_days.select(
        "customer_id", "event_type", _midnight(pl.col("first_day")).alias("first_event_at")
    )
    customers = days.last_events.join(
        firsts.filter(pl.col("event_type").is_null()).drop("event_type"), on="customer_id"
    ).with_columns(pl.lit(None, dtype=pl.String).alias("event_type"))
    typed_firsts = firsts.filter(pl.col("event_type").is_not_null())
    latest = days.app_latest.select("customer_id", "event_type", "last_event_at")
    purchases = (
        days.purchases.group_by("customer_id")
        .agg(
            pl.col("valued_purchases").sum(),
            pl.col("purchase_amount").sum().cast(pl.Float64),
        )
        .with_columns(pl.lit(config.metric_settings.purchase_event).alias("event_type"))
    )
    defaults = {
        "count": pl.lit(0, dtype=pl.Int64),
        "occurrences": pl.lit(0.0),
        "previous_occurrences": pl.lit(0.0),
        "valued_purchases": pl.lit(0, dtype=pl.Int64),
        "purchase_amount": pl.lit(0.0),
    }
    return pl.concat(
        [
            part.with_columns(
                (defaults.get(name, pl.lit(None)).cast(dtype)).alias(name)
                for name, dtype in EVENT_TYPE_TOTALS.items()
                if name not in part.collect_schema()
            ).select(list(EVENT_TYPE_TOTALS))
            for part in (window, previous, customers, typed_firsts, latest, purchases)
        ]
    )


def customer_totals_of_days(
    days: PanelDays,
    config: ScoringConfig,
    run_date: date,
    window: pl.LazyFrame | None = None,
    previous: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """panel_inputs.customer_totals from the days (totals_of_days): scores and the history
    aggregations per customer seen by the end of the run date."""
    rows = totals_of_days(days, config, run_date, window, previous).collect()
    present = rows.get_column("event_type").drop_nulls().unique().to_list()
    return customer_totals(rows.lazy(), config, run_date, present)


def _keyed(frame: pl.LazyFrame, key: pl.Expr) -> pl.LazyFrame:
    return frame.with_columns(key.alias("customer_id"))


def survey_counts_of_days(customers: pl.LazyFrame) -> pl.LazyFrame:
    """surveys.survey_counts from the window's customer_days (by the customer key)."""
    answers = pl.sum_horizontal("csat_responses", "nps_responses", "effort_responses")
    return (
        customers.filter(answers > 0)
        .group_by("customer_id")
        .agg(
            *[pl.col(name).sum() for name in SURVEY_COUNTS],
            pl.col("effort_total").sum().cast(pl.Float64),
            pl.col("nps_response").sort_by("nps_at", "nps_event_id").last(),
        )
    )


def repeated_session_keys(sessions: pl.LazyFrame) -> pl.LazyFrame:
    """The session_key values of more than one session_days row: the sorted keys compared
    with their neighbours (several times faster than grouping millions of distinct keys)."""
    key = pl.col("session_key")
    return sessions.select(key.sort()).filter(key == key.shift(1)).unique()


def multi_row_sessions(sessions: pl.LazyFrame) -> pl.LazyFrame:
    """The session_days rows of the sessions with more than one row (over several days or
    input files; or sharing a 64-bit key with another session, merged apart by their ids)."""
    return sessions.join(repeated_session_keys(sessions), on="session_key", how="semi")


def merged_sessions(sessions: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer (by key): the change of each SESSION_COUNTS when the sessions with more
    than one row in the window's session_days (multi_row_sessions) are counted once, merged
    by their ids (views, timed, interactions summed), instead of once per row."""
    candidates = multi_row_sessions(sessions)
    merged = candidates.group_by("customer_id", "session_id").agg(
        pl.col("views").sum(), pl.col("timed").sum(), pl.col("interactions").sum()
    )
    return (
        pl.concat(
            [
                merged.group_by("customer_id").agg(day_sessions(merged)),
                candidates.group_by("customer_id")
                .agg(day_sessions(candidates))
                .with_columns(pl.col(SESSION_COUNTS) * -1),
            ]
        )
        .group_by("customer_id")
        .agg(pl.col(SESSION_COUNTS).sum())
    )


def session_exit_changes(sessions: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer (by key) and page: the change of exits when the sessions with more than
    one row (multi_row_sessions) exit at their latest view instead of each row's."""
    candidates = multi_row_sessions(sessions).filter(pl.col("views") > 0)
    merged = candidates.group_by("customer_id", "session_id").agg(
        pl.col("exit_page").sort_by("last_view_at", "last_view_id").last()
    )

    def exits(frame: pl.LazyFrame, change: int) -> pl.LazyFrame:
        return frame.select("customer_id", "exit_page", pl.lit(change, dtype=pl.Int64).alias("d"))

    return (
        pl.concat([exits(merged, 1), exits(candidates, -1)])
        .filter(pl.col("exit_page").is_not_null())
        .group_by("customer_id", pl.col("exit_page").alias("page"))
        .agg(pl.col("d").sum().alias("exit_change"))
    )


def web_counts_of_days(customers: pl.LazyFrame, sessions: pl.LazyFrame) -> pl.LazyFrame:
    """web.web_counts from the window's customer_days and session_days (by the customer key)."""
    counts = (
        customers.filter(pl.col("page_views") > 0)
        .group_by("customer_id")
        .agg(
            *[pl.col(name).sum() for name in (*PAGE_VIEW_COUNTS, *SESSION_COUNTS)],
            *[pl.col(name).sum().cast(pl.Float64) for name in PAGE_VIEW_SUMS],
        )
    )
    changes = merged_sessions(sessions)
    corrected = [
        (pl.col(name) + pl.col(f"{name}_change").fill_null(0)).alias(name)
        for name in SESSION_COUNTS
    ]
    return (
        counts.join(
            changes.rename({n: f"{n}_change" for n in SESSION_COUNTS}), on="customer_id", how="left"
        )
        .with_columns(corrected)
        .select(
            "customer_id",
            "page_views",
            "timed_page_views",
            "page_seconds",
            "scrolled_page_views",
            "scroll_total",
            "sessions",
            "session_page_views",
            "timed_sessions",
            "session_seconds",
            "bounced_sessions",
        )
    )


def active_days_of_days(counts: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """retention.active_days from the window's daily event counts (by the customer key)."""
    return (
        counts.filter(retention.active_event(config))
        .select("customer_id", EVENT_DATE)
        .unique()
        .group_by("customer_id")
        .agg(pl.len().cast(pl.Int64).alias("active_days"))
    )


def catalogue_features(features: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """adoption.feature_users from the window's feature_days (by the customer key)."""
    catalogue = config.metric_settings.features
    used = features if catalogue is None else features.filter(pl.col("feature").is_in(catalogue))
    return used.select("customer_id", "feature").unique()


def first_week_of_days(
    counts: pl.LazyFrame, signups: pl.LazyFrame, config: ScoringConfig, run_date: date
) -> pl.LazyFrame:
    """adoption.first_week_engagement from the window's daily event counts (by the customer
    key): the first week is whole days from the signup date, all in the window."""
    days = config.metric_settings.first_week_days
    window = Window.ending_on(run_date, config.window_days)
    in_scope = signups.filter(
        pl.col("signup_date").is_between(window.start.date(), run_date - timedelta(days=days - 1))
    )
    first_week = pl.col(EVENT_DATE).is_between(
        pl.col("signup_date"), pl.col("signup_date") + timedelta(days=days - 1)
    )
    weighted = (
        counts.join(in_scope, on="customer_id", how="inner")
        .filter(first_week)
        .join(weights_frame(config), on="event_type", how="left")
        .group_by("customer_id")
        .agg(
            (pl.col("weight").cast(DECIMAL) * pl.col("count")).sum().cast(pl.Float64)
            .alias("first_week_score"),
            pl.col("count").sum().cast(pl.Int64).alias("first_week_events"),
            retention.active_event(config).any().alias("first_week_active"),
        )
    )  # fmt: skip
    return (
        in_scope.join(weighted, on="customer_id", how="left")
        .with_columns(
            pl.col("first_week_score").fill_null(0.0).round(9),
            pl.col("first_week_events").fill_null(0),
            pl.col("first_week_active").fill_null(False),
        )
        .select("customer_id", "first_week_score", "first_week_events", "first_week_active")
    )


def ties_of_days(latest_app: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """retention.tie_status from app_latest: of the customers whose latest install and
    uninstall share an instant, `kept` when the install has the larger event_id."""
    metrics = config.metric_settings

    def latest(event_type: str, prefix: str) -> pl.LazyFrame:
        return latest_app.filter(pl.col("event_type") == event_type).select(
            "customer_id",
            pl.col("last_event_at").alias(f"{prefix}_at"),
            pl.col("last_event_id").alias(f"{prefix}_id"),
        )

    return (
        latest(metrics.app_install_event, "install")
        .join(latest(metrics.app_uninstall_event, "uninstall"), on="customer_id")
        .filter(pl.col("install_at") == pl.col("uninstall_at"))
        .select(
            "customer_id",
            pl.when(pl.col("install_id") > pl.col("uninstall_id"))
            .then(pl.lit("kept"))
            .otherwise(pl.lit("deleted"))
            .alias("tie_status"),
        )
    )


def attributes_of_days(inputs: PanelInputs, history: pl.LazyFrame) -> pl.LazyFrame:
    """segments.customer_attributes from the attribute history: the table's attributes and
    signup date, and each event attribute's latest value."""
    sources = inputs.attribute_sources
    from_events = [name for name, source in sources.items() if source == "events"]
    table_columns = [name for name, source in sources.items() if source == "customers"]
    table = (
        inputs.customers.select(
            "customer_id", *table_columns, pl.col("signup_date").alias("table_signup_date")
        )
        if inputs.customers is not None
        else pl.LazyFrame(schema={"customer_id": pl.String, "table_signup_date": pl.Date})
    )
    if not from_events:
        return table
    latest = history.select("customer_id").unique()
    for name in from_events:
        values = history.filter(pl.col("attribute") == name).select(
            "customer_id", pl.col("value").alias(name)
        )
        latest = latest.join(values, on="customer_id", how="left")
    return table.join(latest, on="customer_id", how="full", coalesce=True)


def page_counts_of_days(pages: pl.LazyFrame, sessions: pl.LazyFrame) -> pl.LazyFrame:
    """web.page_counts from the window's page_days and session_days (by the customer key)."""
    return (
        pages.group_by("customer_id", "page")
        .agg(pl.col("views").sum(), pl.col("exits").sum())
        .join(session_exit_changes(sessions), on=["customer_id", "page"], how="left")
        .with_columns(pl.col("exits") + pl.col("exit_change").fill_null(0))
        .select("customer_id", "page", "views", "exits")
    )


def day_frames(inputs: PanelInputs, days: PanelDays) -> WindowFrames:
    """The WindowFrames of a run from its daily tables (PanelDays), by inputs.key."""
    config, key = inputs.config, inputs.key
    customers = _keyed(days.customers, key)
    sessions = _keyed(days.sessions, key)
    counts = _keyed(days.event_counts, key)
    features = catalogue_features(_keyed(days.features, key), config)
    attributes = attributes_of_days(inputs, days.attributes)
    signups = customer_signups(inputs, attributes)
    catalogue = config.metric_settings.features
    return WindowFrames(
        counts=(
            survey_counts_of_days(customers),
            web_counts_of_days(customers, sessions),
            active_days_of_days(counts, config),
            features.group_by("customer_id").agg(pl.len().cast(pl.Int64).alias("features_used")),
            first_week_of_days(counts, signups, config, inputs.run_date),
        ),
        feature_catalogue=(
            pl.LazyFrame({"feature_catalogue": [len(catalogue)]})
            if catalogue is not None
            else features.select(
                pl.col("feature").n_unique().cast(pl.Int64).alias("feature_catalogue")
            )
        ),
        ties=ties_of_days(days.app_latest, config),
        attributes=attributes,
        pages=page_counts_of_days(_keyed(days.pages, key), sessions),
        feature_users=features,
    )


def day_panel_inputs(
    days: PanelDays,
    config: ScoringConfig,
    run_date: date,
    customers: pl.LazyFrame | None,
    totals: pl.LazyFrame,
    key: pl.Expr,
) -> PanelInputs:
    """The PanelInputs of a panel from days: attribute sources from the event columns seen."""
    table = typed_customers(customers) if customers is not None else None
    table_columns = table.collect_schema().names() if table is not None else []
    return PanelInputs(
        config=config,
        run_date=run_date,
        window=Window.ending_on(run_date, config.window_days),
        key=key,
        customers=table,
        attribute_sources=attribute_sources(
            segment_names(config), table_columns, days.event_columns
        ),
        totals=totals,
    )
