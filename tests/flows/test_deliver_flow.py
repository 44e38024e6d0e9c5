"""The follow-up flow run directly: CRM drop, webhook, partial failure and a re-run that
sends only what was not delivered."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from flows.followups import deliver_followups
from scoring.config import ScoringConfig
from scoring.schema import ACTIONS
from tasks.followups.deliver import WebhookDeliveryError
from tasks.publish.write import write_manifest, write_partition
from tests.servers import Receiver

pytestmark = pytest.mark.usefixtures("prefect_api")

RUN_DATE = date(2026, 3, 31)


def actions(ids: list[str]) -> pl.DataFrame:
    height = len(ids)
    columns = {c.name: [None] * height for c in ACTIONS}
    columns.update(
        action_id=ids,
        action=["new"] * height,
        delivered=[True] * height,
        status=["new"] * height,
        customer_id=[i.split(":")[2] for i in ids],
        kind=["at_risk"] * height,
        flagged_on=[RUN_DATE] * height,
        reasons=["negative"] * height,
        message=[f"msg {i}" for i in ids],
        score=[-1.0] * height,
        tier=["churn_risk"] * height,
        days_inactive=[0] * height,
    )
    return pl.DataFrame(columns, schema={c.name: c.dtype for c in ACTIONS})


def test_failed_actions_stay_undelivered_and_a_rerun_sends_only_them(
    tmp_path: Path, webhook_receiver: Receiver
) -> None:
    output = tmp_path / "out"
    ids = [f"2026-03-31:at_risk:{c}:new" for c in ("a", "b", "c")]
    never_delivered = actions(["2026-03-31:at_risk:q:resolved"]).with_columns(
        action=pl.lit("resolved"), delivered=pl.lit(False), status=pl.lit("resolved")
    )  # a queued flag resolved before delivery: recorded, never sent
    write_partition(
        pl.concat([actions(ids), never_delivered]), "actions", ACTIONS, output, RUN_DATE
    )
    config = ScoringConfig.model_validate(
        {
            "followups": {
                "delivery": {"retries": 1, "backoff_seconds": 0.01, "drop_formats": ["csv"]}
            }
        }
    )
    write_manifest({"config": config.model_dump(mode="json")}, output, RUN_DATE)

    receiver, url = webhook_receiver, webhook_receiver.url
    receiver.rejected = {ids[1]}
    with pytest.raises(WebhookDeliveryError, match=r"1 action\(s\) not delivered.*:b:new"):
        deliver_followups(run_date=RUN_DATE, output=str(output), webhook_url=url)
    assert [key for key, _ in receiver.accepted()] == [ids[0], ids[2]]
    assert len(receiver.requests) == 3  # a 400 is not retried

    receiver.rejected = set()
    report = deliver_followups(run_date=RUN_DATE, output=str(output), webhook_url=url)
    assert report.webhook is not None
    assert (report.webhook.sent, report.webhook.already_delivered) == (
        [ids[1]],
        [ids[0], ids[2]],
    )
    assert sorted(key for key, _ in receiver.accepted()) == ids
    assert receiver.accepted()[-1][1]["text"] == f"msg {ids[1]}"
    drop = output / "crm_drop" / "run_date=2026-03-31"
    assert report.drop_files == [str(drop / "actions.csv"), str(drop / "by_owner/unassigned.csv")]
    assert report.actions == 3
    assert ":q:" not in (drop / "actions.csv").read_text()


def test_without_a_run_the_flow_says_which_manifest_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"manifest\.json: no scoring run for 2026-03-31"):
        deliver_followups(run_date=RUN_DATE, output=str(tmp_path))
