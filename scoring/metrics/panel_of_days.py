"""The metric panel rebuilt from the daily tables of scoring.metrics.panel_days: the panel's
totals and window frames from the days, exactly as from the events (see that module for how
each metric that cannot be split by day is handled)."""

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from scoring.aggregates import (
    EVENT_DATE,
    EVENT_TYPE_TOTALS,
    window_start_date,
    window_totals_from_daily,
)
from scoring.config import ScoringConfig
from scoring.engagement import Window
from scoring.metrics import retention
from scoring.metrics.adoption import first_week_totals
from scoring.metrics.customer_panel import WindowFrames, customer_signups
from scoring.metrics.day_schemas import (
    DECIMAL,
    PAGE_VIEW_COUNTS,
    PAGE_VIEW_SUMS,
    SESSION_COUNTS,
    SURVEY_COUNTS,
)
from scoring.metrics.day_sessions import (
    merged_sessions,
    session_exit_changes,
)
from scoring.metrics.panel_inputs import PanelInputs, customer_totals, segment_names
from scoring.metrics.segments import attribute_sources, typed_customers

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


def weighted_counts(counts: pl.LazyFrame, config: ScoringConfig) -> pl.LazyFrame:
    """Daily counts of the weighted event types only: all the previous period's totals need
    (the other types add nothing to its score)."""
    return counts.filter(pl.col("event_type").is_in(list(config.weights)))


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
    if previous is None:
        previous_run = day_ranges(config, run_date)["previous"][1]
        previous = window_totals_from_daily(
            weighted_counts(days.previous_counts, config), config, previous_run
        )
    previous = previous.select(
        "customer_id", "event_type", pl.col("occurrences").alias("previous_occurrences")
    )
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
    first_week = pl.col(EVENT_DATE).is_between(
        pl.col("signup_date"), pl.col("signup_date") + timedelta(days=days - 1)
    )
    score = (pl.col("weight").cast(DECIMAL) * pl.col("count")).sum().cast(pl.Float64)
    return first_week_totals(
        counts,
        signups,
        first_week,
        config,
        run_date,
        score.alias("first_week_score"),
        pl.col("count").sum().cast(pl.Int64).alias("first_week_events"),
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
