"""What one run's metric panel reads: the wanted attribute columns, the events besides the
run's customer totals, those totals, and the customer key of the window's frames."""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date

import polars as pl

from scoring.aggregates import (
    customer_scores_from_totals,
    event_type_totals,
    first_before,
    of_types,
)
from scoring.config import ScoringConfig
from scoring.engagement import SCORE_DECIMALS, Window, contribution, events_in_window
from scoring.events import events_until
from scoring.metrics import adoption, campaigns, health, retention, value, web
from scoring.metrics.rates import exact_sum
from scoring.metrics.segments import attribute_sources, typed_customers
from scoring.schema import OPTIONAL_EVENT_COLUMNS, REQUIRED_EVENT_COLUMNS, UTC_TIMESTAMP

CUSTOMER_ID = pl.col("customer_id")


def segment_names(config: ScoringConfig) -> tuple[str, ...]:
    """The attributes wanted: the configured segments, the percentile and health segments and
    the plan column (for the activity rate)."""
    metrics = config.metric_settings
    extra = (metrics.percentile_segment, metrics.health.segment, metrics.plan_column)
    return tuple(dict.fromkeys([*metrics.segments, *(e for e in extra if e is not None)]))


def panel_columns(
    config: ScoringConfig, available: Iterable[str], customer_columns: Iterable[str] = ()
) -> list[str]:
    """The event columns the panel reads: the contract's and the wanted attribute columns
    that the customers table (its `customer_columns`) does not provide."""
    wanted = {c.name for c in REQUIRED_EVENT_COLUMNS + OPTIONAL_EVENT_COLUMNS}
    wanted |= set(segment_names(config)) - set(customer_columns)
    return [name for name in available if name in wanted]


def resolved_attributes(
    events: pl.LazyFrame, customers: pl.LazyFrame | None, config: ScoringConfig
) -> dict[str, str]:
    """Which wanted attributes exist, and where they come from (see attribute_sources)."""
    table_columns = customers.collect_schema().names() if customers is not None else []
    return attribute_sources(segment_names(config), table_columns, events.collect_schema().names())


def panel_events(
    events: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    customers: pl.LazyFrame | None = None,
    app_ties: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """The events metric_panel reads besides the run's customer totals (customer_totals): those
    of the window and, for attributes taken from event columns, the events carrying one; with
    `app_ties` (retention.app_ties of the totals), the app events of those customers at the
    tie's instant.

    Given the totals, metric_panel of these events equals metric_panel of all of them. Without
    attributes from event columns or ties before the window, they are the window's events
    only, so a scan reads just the files (row groups) of the window."""
    window = Window.ending_on(run_date, config.window_days)
    table = typed_customers(customers) if customers is not None else None
    sources = resolved_attributes(events, table, config)
    in_window = pl.col("occurred_at") >= pl.lit(window.start, dtype=UTC_TIMESTAMP)
    carried = [pl.col(name).is_not_null() for name, source in sources.items() if source == "events"]
    read = pl.any_horizontal(in_window, *carried)
    known = events_until(events, window.end)
    kept = known.filter(read)
    if app_ties is None:
        return kept
    at_ties = known.filter(~read & retention.app_event(config))
    tied = at_ties.join(
        app_ties,
        left_on=["customer_id", "occurred_at"],
        right_on=["customer_id", "app_tie_at"],
        how="semi",
    )
    return pl.concat([kept, tied])


def customer_total_aggregations(
    config: ScoringConfig, run_date: date, present: Collection[str] | None = None
) -> list[pl.Expr]:
    """Aggregations of a customer's event-type totals (scoring.aggregates.EVENT_TYPE_TOTALS,
    with the types' `weight`; holding the `present` event types when known, see
    aggregates.of_types): first_event_at, score_previous, visited_before, signup_date, the
    lifecycle counts (retention.lifecycle_totals), the campaign counts, the support and
    billing counts of the window and the CLV lookback's purchases and revenue.

    score_previous is the CES of the previous period, as customer_scores computes it for the
    window ending `window_days` before the run date: null for customers not seen by its end
    (which is where the window starts), else the sum of their rounded per-type contributions
    (0 without any)."""
    metrics = config.metric_settings
    window = Window.ending_on(run_date, config.window_days)
    previous = contribution(pl.col("weight"), pl.col("previous_occurrences"))
    return [
        pl.col("first_event_at").min(),
        pl.when(first_before(window).any())
        .then(exact_sum(previous).round(SCORE_DECIMALS))
        .alias("score_previous"),
        web.visited_before(window, metrics, present).alias("visited_before"),
        adoption.signup_date(config, present),
        *retention.lifecycle_totals(window, config, present),
        *campaigns.campaign_totals(metrics, present),
        *health.support_and_billing_totals(config, present),
        *value.purchase_totals(of_types([metrics.purchase_event], present)),
    ]


def customer_totals(
    totals: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    present: Collection[str] | None = None,
) -> pl.LazyFrame:
    """Per customer seen by the end of the run date, from its event-type totals (holding the
    `present` event types, when known): its scores (scoring.aggregates.
    customer_scores_from_totals) and, in the same group-by, the customer_total_aggregations
    the panel needs from the history. The scoring step computes these with the scores
    (tasks.score.scores.score_events with keep_totals)."""
    return customer_scores_from_totals(
        totals, config, also=customer_total_aggregations(config, run_date, present)
    )


HASHED_CUSTOMER_ID = pl.col("customer_id").hash(seed=20261206)
"""A 64-bit hash of customer_id: the panel's customer key over the window's events when it
tells the run's customers apart (customer_key)."""


def customer_key(customers: pl.LazyFrame, hashed: pl.Expr = HASHED_CUSTOMER_ID) -> pl.LazyFrame:
    """One row: `hashed`, whether the `hashed` customer_id (HASHED_CUSTOMER_ID) tells these
    customers apart, each listed once (the run's customer totals: every customer of the
    window's events is one of them). The panel then groups and joins the window's events on
    it, a fixed-width number hashed and compared far faster than text; else on customer_id."""
    return customers.select((hashed.n_unique() == pl.len()).alias("hashed"))


def keyed_window(events: pl.LazyFrame, window: Window, key: pl.Expr = CUSTOMER_ID) -> pl.LazyFrame:
    """The events of the window with their customer_id replaced by the customer `key`
    (customer_key: HASHED_CUSTOMER_ID or customer_id itself)."""
    return events_in_window(events, window).with_columns(key.alias("customer_id"))


@dataclass(frozen=True)
class PanelInputs:
    """What every assembly step of one run's panel reads: the run's window, the customer `key`
    of the window's frames (customer_key), the typed customers table, where each wanted
    attribute comes from (resolved_attributes) and the run's customer totals
    (customer_totals)."""

    config: ScoringConfig
    run_date: date
    window: Window
    key: pl.Expr
    customers: pl.LazyFrame | None
    attribute_sources: dict[str, str]
    totals: pl.LazyFrame


@dataclass(frozen=True)
class PanelEvents:
    """The events a panel from events reads besides its totals: those known by the window's
    end, and the window's events by the customer key."""

    known: pl.LazyFrame
    window_events: pl.LazyFrame


def panel_inputs(
    events: pl.LazyFrame,
    config: ScoringConfig,
    run_date: date,
    customers: pl.LazyFrame | None = None,
    totals: pl.LazyFrame | None = None,
    key: pl.Expr = CUSTOMER_ID,
) -> tuple[PanelInputs, PanelEvents]:
    """The PanelInputs of a run and its PanelEvents: `events` are valid events with typed
    properties (scoring.events.typed_properties, applied by validation); `totals` the run's
    customer_totals (sorted by customer_id, as customer_totals gives them) when already
    computed, else computed from the events."""
    window = Window.ending_on(run_date, config.window_days)
    known = events_until(events, window.end)
    table = typed_customers(customers) if customers is not None else None
    if totals is None:
        totals = customer_totals(event_type_totals(known, config, run_date), config, run_date)
    inputs = PanelInputs(
        config=config,
        run_date=run_date,
        window=window,
        key=key,
        customers=table,
        attribute_sources=resolved_attributes(events, table, config),
        totals=totals,
    )
    return inputs, PanelEvents(known=known, window_events=keyed_window(events, window, key))
