"""The scoring rules as a daily run applies them, for tests that state the rules directly."""

from datetime import date

import polars as pl

from scoring.aggregates import unweighted_event_types_from_totals, window_totals
from scoring.config import ScoringConfig
from scoring.events import ROW_ID, later_occurrences


def unweighted_event_types(
    events: pl.LazyFrame, config: ScoringConfig, run_date: date
) -> pl.LazyFrame:
    """The window's unweighted event types as a daily run finds them (from its totals)."""
    return unweighted_event_types_from_totals(window_totals(events, config, run_date), config)


def first_occurrences(events: pl.LazyFrame) -> pl.LazyFrame:
    """The events de-duplicated as validation does: without their later occurrences."""
    return events.join(later_occurrences(events), on=ROW_ID, how="anti")
