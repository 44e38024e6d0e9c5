"""Actions: what changed in the flags since the previous run, as the CRM and the webhook get it.

- `new`: a flag delivered for the first time (status new: within capacity today);
- `changed`: a flag delivered before whose open rules changed;
- `resolved`: a flag of the previous run that no longer holds. Delivered when the flag had
  been delivered; a queued flag resolved before delivery is recorded with delivered = false.

Queued flags that still hold make no action: they wait.
"""

from datetime import date

import polars as pl

from scoring.followups.capacity import DELIVERED_STATUSES
from scoring.followups.flags import FLAG_KEYS
from scoring.history import number_text
from scoring.schema import ACTIONS, polars_schema

KIND_TITLES = {"at_risk": ":warning: *At risk*", "upsell_ready": ":rocket: *Upsell ready*"}
ACTION_WORDS = {"new": "new flag", "changed": "reasons changed", "resolved": "resolved"}


def optional_part(template: str, value: pl.Expr) -> pl.Expr:
    """`template` with `value` in it ("" when the value is null)."""
    return pl.format(template, value).fill_null("")


def action_message() -> pl.Expr:
    """Slack-style text of an action: title, action, priority, customer (name and id), owner,
    value, score and tier, the change, then one bullet per reason and the context."""
    title = pl.col("kind").replace_strict(KIND_TITLES, return_dtype=pl.String)
    word = pl.col("action").replace_strict(ACTION_WORDS, return_dtype=pl.String)
    customer = (
        pl.when(pl.col("customer_name").is_not_null())
        .then(pl.format("*{}* (`{}`)", pl.col("customer_name"), pl.col("customer_id")))
        .otherwise(pl.format("`{}`", pl.col("customer_id")))
    )
    bullets = pl.concat_str(pl.lit("\n• "), pl.col("reasons").str.replace_all("; ", "\n• "))
    return pl.concat_str(
        title,
        pl.lit(" · "),
        word,
        optional_part(" · #{}", pl.col("priority")),
        pl.lit(" · customer "),
        customer,
        optional_part(" · owner {}", pl.col("account_owner")),
        optional_part(" · value {}", number_text(pl.col("value"))),
        pl.format(" · score {} ({})", number_text(pl.col("score")), pl.col("tier")),
        optional_part(" · change {}", pl.col("explanation")),
        bullets,
        optional_part("\n_{}_", pl.col("context")),
    )


def action_of() -> pl.Expr:
    """new / changed / resolved from today's status and rules and the previous ones (null:
    nothing to do)."""
    was_delivered = pl.col("previous_status").is_in(DELIVERED_STATUSES).fill_null(False)
    return (
        pl.when(pl.col("status") == "new")
        .then(pl.lit("new"))
        .when(pl.col("status").is_null() & pl.col("previous_status").is_not_null())
        .then(pl.lit("resolved"))
        .when(
            (pl.col("status") == "open")
            & was_delivered
            & (pl.col("rules") != pl.col("previous_rules"))
        )
        .then(pl.lit("changed"))
    )


def flag_actions(
    today: pl.LazyFrame,
    before: pl.LazyFrame,
    evidence: pl.LazyFrame,
    explanations: pl.LazyFrame,
    routing: pl.LazyFrame,
    run_date: date,
) -> pl.LazyFrame:
    """The actions of a run from its flags (capacity.flag_statuses) and the previous run's,
    with today's evidence (a resolved flag shows the recovery) and routing columns.
    action_id = "<run_date>:<kind>:<customer_id>:<action>" is its delivery's idempotency key;
    sorted by delivered first, then priority (resolved last), kind and customer_id."""
    previous = before.select(
        *FLAG_KEYS,
        pl.col("flagged_on").alias("flagged_on_before"),
        pl.col("rules").alias("previous_rules"),
        pl.col("status").alias("previous_status"),
    )
    was_delivered = pl.col("previous_status").is_in(DELIVERED_STATUSES).fill_null(False)
    return (
        today.select(
            *FLAG_KEYS,
            "status",
            "priority",
            "priority_score",
            "flagged_on",
            "rules",
            "reasons",
            "context",
        )
        .join(previous, on=FLAG_KEYS, how="full", coalesce=True)
        .with_columns(action_of().alias("action"))
        .filter(pl.col("action").is_not_null())
        .join(evidence, on="customer_id", how="left")
        .join(explanations, on="customer_id", how="left")
        .join(routing, on="customer_id", how="left")
        .with_columns(
            pl.format(
                "{}:{}:{}:{}", pl.lit(run_date.isoformat()), "kind", "customer_id", "action"
            ).alias("action_id"),
            (pl.col("action") != "resolved").or_(was_delivered).alias("delivered"),
            pl.col("status").fill_null("resolved"),
            pl.coalesce("flagged_on", "flagged_on_before").alias("flagged_on"),
            pl.when(pl.col("action") == "resolved")
            .then(pl.format("no longer holds: {}", pl.col("previous_rules")))
            .otherwise(pl.col("reasons"))
            .alias("reasons"),
        )
        .with_columns(action_message().alias("message"))
        .select(polars_schema(ACTIONS).names())
        .sort(
            ["delivered", "priority", "kind", "customer_id"],
            descending=[True, False, False, False],
            nulls_last=True,
        )
    )
