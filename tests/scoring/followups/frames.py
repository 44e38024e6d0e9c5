"""Small frames and a one-run pipeline for the follow-up tests (pure Polars, no flow)."""

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from scoring.followup_config import FollowupRule, FollowupsConfig
from scoring.followups import (
    EVIDENCE,
    ROUTING,
    current_flags,
    empty_enrolments,
    empty_flags,
    flag_actions,
    flag_statuses,
    prioritized_flags,
    rule_enrolments,
    rule_matches,
)

RUN_DATE = date(2026, 3, 31)
NO_EXPLANATIONS = pl.LazyFrame(schema={"customer_id": pl.String(), "explanation": pl.String()})
NO_CONTRIBUTIONS = pl.LazyFrame(
    schema={"customer_id": pl.String(), "event_type": pl.String(), "count": pl.Int64()}
)
NO_ROUTING = pl.LazyFrame(schema=ROUTING)


def day(n: int) -> date:
    """Day n of a simulated run sequence (day 1 = 1 March 2026)."""
    return date(2026, 3, 1) + timedelta(days=n - 1)


def rule(name: str, kind: str, when: dict[str, object], reason: str = "r") -> FollowupRule:
    return FollowupRule.model_validate({"name": name, "kind": kind, "when": when, "reason": reason})


def evidence(**columns: list[object]) -> pl.LazyFrame:
    """An evidence frame with the given columns, others null."""
    height = len(columns["customer_id"])
    return pl.LazyFrame(
        {name: columns.get(name, [None] * height) for name in EVIDENCE}, schema=EVIDENCE
    )


def routing(**columns: list[object]) -> pl.LazyFrame:
    """A routing frame (customer_id, account_owner, customer_name, value), others null."""
    height = len(columns["customer_id"])
    return pl.LazyFrame(
        {name: columns.get(name, [None] * height) for name in ROUTING}, schema=ROUTING
    )


@dataclass
class Followups:
    """The follow-up state carried from one run to the next, and one run's step."""

    config: FollowupsConfig
    state: pl.LazyFrame
    flags: pl.LazyFrame

    @classmethod
    def start(cls, config: FollowupsConfig) -> "Followups":
        return cls(config, empty_enrolments(), empty_flags())

    def run(
        self,
        frame: pl.LazyFrame,
        run_date: date,
        customers: pl.LazyFrame = NO_ROUTING,
        explanations: pl.LazyFrame = NO_EXPLANATIONS,
        *,
        deliver: bool = True,
        baseline_date: date | None = None,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """One run, as tasks/followups/track.py composes it: (flags, actions)."""
        matches = rule_matches(frame, NO_CONTRIBUTIONS, self.config)
        self.state = (
            rule_enrolments(matches, self.state, run_date, self.config.cooldown_days)
            .collect()
            .lazy()
        )
        candidates = current_flags(self.state, matches, frame, explanations, self.config.precedence)
        flags = flag_statuses(
            prioritized_flags(candidates, customers, run_date, baseline_date),
            self.flags,
            self.config.capacity,
            deliver,
        ).collect()
        actions = flag_actions(
            flags.lazy(), self.flags, frame, explanations, customers, run_date
        ).collect()
        self.flags = flags.lazy()
        return flags, actions
