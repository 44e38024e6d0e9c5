"""Capacity: at most `per_run` new flags per kind and run, and `per_owner` per account owner;
the others wait as queued, in priority order, and nothing is lost. A baseline run queues."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.followup_config import FollowupsConfig
from tests.scoring.followups.frames import Followups, day, evidence, routing, rule

QUIET = rule("quiet", "at_risk", {"condition": "inactive", "days": 7}, "quiet {days_inactive} d")
PQL = rule("pql", "upsell_ready", {"condition": "product_qualified_lead", "plans": ["trial"]})


def quiet_customers(days: dict[str, int], trials: tuple[str, ...] = ()) -> pl.LazyFrame:
    """Customers inactive for `days` (at risk from 7 days: margin days / 7, so more days rank
    first) and highly engaged trial customers (upsell-ready)."""
    names = [*days, *trials]
    return evidence(
        customer_id=names,
        score=[1.0] * len(days) + [80.0] * len(trials),
        tier=["very_disengaged"] * len(days) + ["highly_engaged"] * len(trials),
        days_inactive=[*days.values(), *[0] * len(trials)],
        plan=["pro"] * len(days) + ["trial"] * len(trials),
    )


def statuses(flags: pl.DataFrame) -> dict[str, str]:
    return dict(flags.select("customer_id", "status").rows())


def test_capacity_per_kind_overall_and_per_owner_and_the_queue_drains_in_order() -> None:
    config = FollowupsConfig(rules=(QUIET, PQL), capacity={"per_run": 3, "per_owner": 2})
    followups = Followups.start(config)
    frame = quiet_customers(
        {"ada1": 14, "ada2": 13, "ada3": 12, "bruno": 11, "nobody1": 10, "nobody2": 9},
        trials=("trial",),
    )
    owners = routing(
        customer_id=["ada1", "ada2", "ada3", "bruno", "nobody1", "nobody2", "trial"],
        account_owner=["Ada", "Ada", "Ada", "Bruno", None, None, "Ada"],
    )
    flags, actions = followups.run(frame, day(1), owners)
    assert statuses(flags) == {
        "ada1": "new",
        "ada2": "new",
        "ada3": "queued",  # Ada has had her 2 at-risk flags
        "bruno": "new",  # the 3rd of the run
        "nobody1": "queued",  # the run is full; no owner: only per_run applies
        "nobody2": "queued",
        "trial": "new",  # upsell-ready has its own capacity
    }
    assert flags.sort("priority")["customer_id"].to_list()[:3] == ["ada1", "ada2", "ada3"]
    delivered = actions.filter(pl.col("delivered"))["customer_id"].to_list()
    assert sorted(delivered) == ["ada1", "ada2", "bruno", "trial"]

    flags, actions = followups.run(frame, day(2), owners)  # the queue, in priority order
    assert statuses(flags) == {
        "ada1": "open",
        "ada2": "open",
        "ada3": "new",
        "bruno": "open",
        "nobody1": "new",
        "nobody2": "new",
        "trial": "open",
    }
    assert actions.select("action", "customer_id").rows() == [
        ("new", "ada3"),
        ("new", "nobody1"),
        ("new", "nobody2"),
    ]
    flags, actions = followups.run(frame, day(3), owners)
    assert set(statuses(flags).values()) == {"open"} and actions.is_empty()


def test_a_queued_flag_waits_for_its_turn_behind_stronger_newcomers() -> None:
    config = FollowupsConfig(rules=(QUIET,), capacity={"per_run": 1, "per_owner": None})
    followups = Followups.start(config)
    flags, _ = followups.run(quiet_customers({"a": 10, "b": 8}), day(1))
    assert statuses(flags) == {"a": "new", "b": "queued"}
    flags, _ = followups.run(quiet_customers({"a": 11, "b": 9, "c": 14}), day(2))
    assert statuses(flags) == {"a": "open", "b": "queued", "c": "new"}  # c: 2 x fresh 2
    flags, actions = followups.run(quiet_customers({"a": 12, "b": 10, "c": 15}), day(3))
    assert statuses(flags) == {"a": "open", "b": "new", "c": "open"}
    assert actions.select("action", "customer_id", "flagged_on").rows() == [("new", "b", day(1))]


def test_a_baseline_run_queues_everything_unless_told_to_deliver() -> None:
    config = FollowupsConfig(rules=(QUIET,), capacity={"per_run": 2, "per_owner": None})
    frame = quiet_customers({"a": 10, "b": 9, "c": 8})
    flags, actions = Followups.start(config).run(frame, day(1), deliver=False)
    assert set(statuses(flags).values()) == {"queued"} and actions.is_empty()
    flags, actions = Followups.start(config).run(frame, day(1), deliver=True)
    assert statuses(flags) == {"a": "new", "b": "new", "c": "queued"}
    assert actions["customer_id"].to_list() == ["a", "b"]


OWNERS = st.sampled_from(["Ada", "Bruno", None])


@settings(max_examples=25, deadline=5000)
@given(
    st.lists(st.tuples(st.integers(7, 30), OWNERS), min_size=1, max_size=10),
    st.one_of(st.none(), st.integers(1, 4)),
    st.one_of(st.none(), st.integers(1, 3)),
)
def test_nothing_is_lost_and_every_run_stays_within_capacity(rows, per_run, per_owner) -> None:
    customers = {f"c{i:02d}": days for i, (days, _) in enumerate(rows)}
    owner_of = {f"c{i:02d}": owner for i, (_, owner) in enumerate(rows)}
    owners = routing(customer_id=list(owner_of), account_owner=list(owner_of.values()))
    config = FollowupsConfig(rules=(QUIET,), capacity={"per_run": per_run, "per_owner": per_owner})
    followups = Followups.start(config)
    delivered: dict[str, int] = {}
    for n in range(1, len(rows) + 2):
        flags, actions = followups.run(quiet_customers(customers), day(n), owners)
        assert sorted(flags["customer_id"]) == sorted(customers)  # nothing lost
        new = flags.filter(pl.col("status") == "new")
        assert per_run is None or new.height <= per_run
        per_owner_new = new.drop_nulls("account_owner").group_by("account_owner").len()
        assert per_owner is None or all(count <= per_owner for count in per_owner_new["len"])
        assert sorted(actions["customer_id"]) == sorted(new["customer_id"])
        for customer in new["customer_id"]:
            assert customer not in delivered  # delivered once
            delivered[customer] = n
        queued = flags.filter(pl.col("status") == "queued")
        for row in new.iter_rows(named=True):  # nobody of the same owner waits ahead of it
            same_owner = queued.filter(pl.col("account_owner").eq_missing(row["account_owner"]))
            assert row["account_owner"] is None or (same_owner["priority"] > row["priority"]).all()
    assert sorted(delivered) == sorted(customers)  # everybody's turn came
