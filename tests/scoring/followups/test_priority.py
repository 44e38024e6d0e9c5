"""Priority: strength x value_factor x freshness, the worked example of docs/followups.md, and
the rank (dense, unique, ties by customer_id)."""

from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.followup_config import FollowupsConfig
from scoring.followups import customer_routing, prioritized_flags
from tests.scoring.followups.frames import RUN_DATE, routing

BASELINE = date(2026, 3, 1)


def candidates(rows: list[tuple[str, float, date]]) -> pl.LazyFrame:
    """Flag candidates: customer_id, kind, strength, raised_on."""
    return pl.LazyFrame(
        [(c, "at_risk", s, r) for c, s, r in rows],
        schema={
            "customer_id": pl.String,
            "kind": pl.String,
            "strength": pl.Float64,
            "raised_on": pl.Date,
        },
        orient="row",
    )


def test_the_worked_example_of_the_docs() -> None:
    yesterday, three_days_ago = RUN_DATE - timedelta(days=1), RUN_DATE - timedelta(days=3)
    flags = candidates(
        [
            ("a", 1.5, yesterday),  # churn_risk at -20: 1 + 20 / 40
            ("b", 3.1, RUN_DATE),  # score_drop 60 / 30 points = 2, churn_risk at -4: 1.1
            ("c", 2.0, BASELINE),  # inactive 28 / 14 days, since the first run
            ("d", 1.5, three_days_ago),  # churn_risk at -20, value unknown
            ("e", 1.5, RUN_DATE),  # inactive 21 / 14 days, a free customer
        ]
    )
    customers = routing(
        customer_id=["a", "b", "c", "d", "e"],
        value=[40_000.0, 10_000.0, 2_500.0, None, 0.0],  # median of the positive: 10,000
    )
    ranked = prioritized_flags(flags, customers, RUN_DATE, BASELINE).collect()
    assert ranked.select(
        "priority", "customer_id", "value_factor", "freshness", "priority_score"
    ).rows() == [
        (1, "b", 1.0, 3.0, 9.3),  # 3.1 x sqrt(10,000 / 10,000) x (1 + 2 / 1)
        (2, "a", 2.0, 2.0, 6.0),  # 1.5 x sqrt(4) x (1 + 2 / 2)
        (3, "d", 1.0, 1.5, 2.25),  # 1.5 x 1 (unknown value) x (1 + 2 / 4)
        (4, "e", 0.5, 3.0, 2.25),  # 1.5 x sqrt(0), clamped to 0.5, x 3: tied with d, d first
        (5, "c", 0.5, 1.0, 1.0),  # 2 x sqrt(0.25) x 1 (raised on the baseline: age unknown)
    ]


def test_value_comes_from_the_column_else_the_plan_and_is_1_when_unknown() -> None:
    table = pl.LazyFrame(
        {
            "customer_id": ["a", "b", "c"],
            "plan": ["pro", "enterprise", "free"],
            "mrr": ["250", None, "not a number"],  # a CSV's text
            "owner": ["Ada", "Bruno", None],
        }
    )
    config = FollowupsConfig.model_validate(
        {
            "value": {"column": "mrr", "plan_values": {"enterprise": 4000}},
            "routing": {"owner_column": "owner", "name_column": "company"},
        }
    )
    assert customer_routing(table, config).collect().rows() == [
        ("a", "Ada", None, 250.0),
        ("b", "Bruno", None, 4000.0),  # no mrr: the plan's value
        ("c", None, None, None),  # neither: unknown (value factor 1)
    ]
    without_column = FollowupsConfig.model_validate({"value": {"column": "arr"}})
    assert customer_routing(table, without_column).collect()["value"].to_list() == [None] * 3
    ranked = prioritized_flags(
        candidates([("a", 1.0, RUN_DATE), ("c", 1.0, RUN_DATE)]),
        customer_routing(table, config),
        RUN_DATE,
    ).collect()
    # median of the positive values 250 and 4000 is 2125: sqrt(250 / 2125) is clamped to 0.5
    assert ranked.select("customer_id", "value_factor").rows() == [("c", 1.0), ("a", 0.5)]


def test_ties_rank_by_customer_id_and_ranks_are_dense() -> None:
    flags = candidates([("b", 1.0, RUN_DATE), ("a", 1.0, RUN_DATE), ("c", 2.0, RUN_DATE)])
    ranked = prioritized_flags(flags, routing(customer_id=[]), RUN_DATE).collect()
    assert ranked.select("priority", "customer_id").rows() == [(1, "c"), (2, "a"), (3, "b")]


@settings(max_examples=40, deadline=2000)
@given(
    st.lists(
        st.tuples(st.sampled_from([1.0, 1.5, 2.0, 3.25]), st.integers(0, 5)),
        min_size=1,
        max_size=12,
    ),
    st.randoms(use_true_random=False),
)
def test_priority_is_a_total_order_whatever_the_row_order(rows, random) -> None:
    named = [(f"c{i:02d}", s, RUN_DATE - timedelta(days=age)) for i, (s, age) in enumerate(rows)]
    shuffled = random.sample(named, len(named))
    ranked = prioritized_flags(candidates(shuffled), routing(customer_id=[]), RUN_DATE).collect()
    assert ranked["priority"].to_list() == list(range(1, len(rows) + 1))
    keys = list(zip((-ranked["priority_score"]).to_list(), ranked["customer_id"], strict=True))
    assert keys == sorted(keys)  # score descending, then customer_id
    again = prioritized_flags(candidates(named), routing(customer_id=[]), RUN_DATE).collect()
    assert again.equals(ranked)
