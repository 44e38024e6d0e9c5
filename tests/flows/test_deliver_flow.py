"""The follow-up flow run directly: CRM drop, webhook, partial failure and a re-run that
sends only what was not delivered."""

import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from flows.followups import deliver_followups
from scoring.config import ScoringConfig
from scoring.schema import ACTIONS
from tasks.followups.deliver import WebhookDeliveryError
from tasks.publish.write import write_manifest, write_partition
from tasks.secrets import SecretNotFoundError
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


def _run_with_a_configured_webhook(output: Path, manifest_extra: dict[str, object]) -> None:
    """A run's actions and manifest whose configuration had a webhook_url (kept masked)."""
    write_partition(actions(["2026-03-31:at_risk:a:new"]), "actions", ACTIONS, output, RUN_DATE)
    delivery = {"webhook_url": "https://hooks.example.com/T0/B0/secret", "drop_formats": ["csv"]}
    config = ScoringConfig.model_validate({"followups": {"delivery": delivery}})
    dumped = config.model_dump(mode="json")
    assert dumped["followups"]["delivery"]["webhook_url"] == "**********"
    write_manifest({"config": dumped, **manifest_extra}, output, RUN_DATE)


def test_a_configured_webhook_url_is_read_from_the_run_s_configuration_file(
    tmp_path: Path, webhook_receiver: Receiver
) -> None:
    output, config = tmp_path / "out", tmp_path / "config.yaml"
    _run_with_a_configured_webhook(output, {"webhook_url_file": str(config)})
    gone = f"^{re.escape(str(config))}: the configuration file holding"
    with pytest.raises(SecretNotFoundError, match=gone):
        deliver_followups(run_date=RUN_DATE, output=str(output))  # the file is gone
    config.write_text("weights: {login: 1}\n")
    removed = r"no longer has a followups\.delivery\.webhook_url"
    with pytest.raises(SecretNotFoundError, match=removed):
        deliver_followups(run_date=RUN_DATE, output=str(output))
    config.write_text(f"followups: {{delivery: {{webhook_url: '{webhook_receiver.url}'}}}}\n")
    report = deliver_followups(run_date=RUN_DATE, output=str(output))
    assert report.webhook is not None and report.webhook.sent == ["2026-03-31:at_risk:a:new"]


def test_a_configured_webhook_url_given_as_an_object_must_be_passed_again(tmp_path: Path) -> None:
    output = tmp_path / "out"
    _run_with_a_configured_webhook(output, {"webhook_url_file": None})
    with pytest.raises(SecretNotFoundError, match="pass webhook_url to the deliver-followups run"):
        deliver_followups(run_date=RUN_DATE, output=str(output))


def test_a_manifest_of_an_earlier_version_still_names_its_webhook(
    tmp_path: Path, webhook_receiver: Receiver
) -> None:
    """Manifests written before webhook_url was masked hold the URL itself."""
    output = tmp_path / "out"
    write_partition(actions(["2026-03-31:at_risk:a:new"]), "actions", ACTIONS, output, RUN_DATE)
    delivery = {"webhook_url": webhook_receiver.url, "drop_formats": ["csv"]}
    write_manifest({"config": {"followups": {"delivery": delivery}}}, output, RUN_DATE)
    report = deliver_followups(run_date=RUN_DATE, output=str(output))
    assert report.webhook is not None and report.webhook.sent == ["2026-03-31:at_risk:a:new"]
