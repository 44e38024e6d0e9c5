"""Follow-ups: one short, ranked call list a day, with evidence.

The steps of a run, each a module:

1. `evidence`: per customer, what the rules read (deltas, inactivity, metrics, plan) and the
   routing columns (account owner, name, value) from the customers table;
2. `rules`: every rule that holds, its reason text and its margin past the threshold; the
   per-rule enrolment with its re-enrolment cool-down;
3. `flags`: one flag per customer, of the first kind of `precedence` that holds (the other
   kind's rules are its context);
4. `priority`: priority_score = strength x value_factor x freshness, and its rank;
5. `capacity`: each flag's status (new / open / queued) within the capacity per kind, overall
   and per account owner;
6. `actions`: what changed since the previous run, for the CRM and the webhook.

Imported as `scoring.followups`: the names below are its public API.
"""

from scoring.followups.actions import flag_actions
from scoring.followups.capacity import empty_flags, flag_statuses
from scoring.followups.evidence import (
    EVIDENCE,
    ROUTING,
    comparison_days,
    customer_routing,
    followup_evidence,
)
from scoring.followups.flags import current_flags
from scoring.followups.priority import prioritized_flags
from scoring.followups.rules import empty_enrolments, rule_enrolments, rule_matches

__all__ = [
    "EVIDENCE",
    "ROUTING",
    "comparison_days",
    "current_flags",
    "customer_routing",
    "empty_enrolments",
    "empty_flags",
    "flag_actions",
    "flag_statuses",
    "followup_evidence",
    "prioritized_flags",
    "rule_enrolments",
    "rule_matches",
]
