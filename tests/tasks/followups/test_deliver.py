"""Webhook delivery: retries with doubling backoff, idempotency keys, the ledger; CRM drop."""

import json
import re
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import polars as pl
import pytest

from scoring.followup_config import DeliveryConfig
from tasks.followups.deliver import (
    WebhookDeliveryError,
    delivered_action_ids,
    drop_for_crm,
    ledger_path,
    owner_file_stem,
    post_with_retries,
    record_delivery,
    webhook_payload,
)

DELIVERY = DeliveryConfig(retries=3, backoff_seconds=0.5)
URL = "http://127.0.0.1:9/hook"


def client_answering(statuses: list[int], seen: list[httpx.Request]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(statuses[len(seen) - 1])

    return httpx.Client(transport=httpx.MockTransport(answer))


def test_retries_5xx_with_doubling_backoff_and_the_same_key() -> None:
    seen: list[httpx.Request] = []
    waits: list[float] = []
    with client_answering([500, 503, 200], seen) as client:
        status, attempts = post_with_retries(
            client, URL, {"text": "hi"}, "k1", DELIVERY, sleep=waits.append
        )
    assert (status, attempts) == (200, 3)
    assert waits == [0.5, 1.0]
    assert [r.headers["Idempotency-Key"] for r in seen] == ["k1"] * 3


def test_gives_up_after_the_retries_and_at_once_on_a_client_error() -> None:
    seen: list[httpx.Request] = []
    waits: list[float] = []
    with (
        client_answering([500] * 4, seen) as client,
        pytest.raises(WebhookDeliveryError, match=r"action k2 not delivered \(HTTP 500\)"),
    ):
        post_with_retries(client, URL, {}, "k2", DELIVERY, sleep=waits.append)
    assert (len(seen), waits) == (4, [0.5, 1.0, 2.0])

    seen.clear()
    with (
        client_answering([404], seen) as client,
        pytest.raises(WebhookDeliveryError, match="HTTP 404"),
    ):
        post_with_retries(client, URL, {}, "k3", DELIVERY, sleep=waits.append)
    assert len(seen) == 1


def test_transport_errors_are_retried() -> None:
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(204)

    with httpx.Client(transport=httpx.MockTransport(flaky)) as client:
        assert post_with_retries(client, URL, {}, "k", DELIVERY, sleep=lambda _: None) == (204, 2)


def test_ledger_is_per_url_and_tolerates_a_torn_last_line(tmp_path: Path) -> None:
    ledger = ledger_path(tmp_path)
    record_delivery(ledger, "a1", URL, 1, 200)
    record_delivery(ledger, "a2", "http://other/hook", 3, 200)
    with ledger.open("a") as handle:
        handle.write('{"action_id": "a3", "ur')
    assert delivered_action_ids(ledger, URL) == {"a1"}
    assert delivered_action_ids(tmp_path / "none.jsonl", URL) == set()


def test_the_ledger_names_a_url_by_its_fingerprint_and_reads_earlier_plain_entries(
    tmp_path: Path,
) -> None:
    secret_url = "https://engage:pw-ledger-5x@hooks.example.com/T0/B0/s3cret-path-abc"
    ledger = ledger_path(tmp_path)
    record_delivery(ledger, "a1", secret_url, 2, 200)
    (entry,) = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert "pw-ledger-5x" not in str(entry) and "s3cret-path-abc" not in str(entry)
    assert entry["endpoint"] == "https://hooks.example.com/…"
    with ledger.open("a") as handle:  # as versions before the fingerprint wrote it
        handle.write(json.dumps({"action_id": "a0", "url": secret_url}) + "\n")
    assert delivered_action_ids(ledger, secret_url) == {"a0", "a1"}
    assert delivered_action_ids(ledger, secret_url.replace("abc", "abd")) == set()


def test_payload_is_slack_text_plus_the_action_as_json() -> None:
    payload = webhook_payload({"message": "*At risk*", "flagged_on": date(2026, 3, 1), "x": 1})
    assert payload == {
        "text": "*At risk*",
        "action": {"message": "*At risk*", "flagged_on": "2026-03-01", "x": 1},
    }


def test_crm_drop_writes_csv_and_parquet_and_replaces_them(tmp_path: Path) -> None:
    actions = tmp_path / "actions.parquet"
    pl.DataFrame(
        {
            "action_id": ["a", "b", "q"],
            "delivered": [True, True, False],  # q: a queued flag resolved, never delivered
            "account_owner": [None, None, None],
            "score": [1.5, -2.0, 3.0],
        }
    ).write_parquet(actions)
    drop = tmp_path / "drop"
    for _ in range(2):
        files = drop_for_crm.fn(str(actions), str(drop), date(2026, 3, 31), ("csv", "parquet"))
    assert [Path(f).name for f in files] == [
        "actions.csv",
        "actions.parquet",
        "unassigned.csv",
        "unassigned.parquet",
    ]
    assert pl.read_csv(files[0]).rows() == [("a", True, None, 1.5), ("b", True, None, -2.0)]
    assert pl.read_parquet(files[1])["action_id"].to_list() == ["a", "b"]
    assert sorted(p.name for p in (drop / "run_date=2026-03-31").iterdir()) == [
        "actions.csv",
        "actions.parquet",
        "by_owner",
    ]


def test_retry_after_is_honoured_in_seconds_and_as_an_http_date_up_to_a_minute() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    answers = [
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503, headers={"Retry-After": soon}),
        httpx.Response(429, headers={"Retry-After": "3600"}),
        httpx.Response(500),
        httpx.Response(200),
    ]
    waits: list[float] = []
    client = httpx.Client(transport=httpx.MockTransport(lambda request: answers.pop(0)))
    with client:
        status, attempts = post_with_retries(
            client, URL, {}, "k", DeliveryConfig(retries=4, backoff_seconds=0.5), waits.append
        )
    assert (status, attempts) == (200, 5)
    assert waits[0] == 7.0
    assert 18.0 < waits[1] <= 20.0  # the date has whole seconds
    assert waits[2:] == [60.0, 4.0]  # capped; no Retry-After: the backoff of the 4th attempt


def test_crm_csv_escapes_formula_cells_and_parquet_keeps_the_text(tmp_path: Path) -> None:
    hostile = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\tTAB", "\rCR", "plain"]
    actions = tmp_path / "actions.parquet"
    pl.DataFrame(
        {"message": hostile, "reasons": ["a=b"] * 7, "score": [-2.0, 1.0, 0, 0, 0, 0, 0]}
    ).with_columns(delivered=pl.lit(True), account_owner=pl.lit("=HYPERLINK(evil)")).write_parquet(
        actions
    )
    csv, parquet, *owner_files = drop_for_crm.fn(
        str(actions), str(tmp_path / "drop"), date(2026, 3, 31), ("csv", "parquet")
    )
    written = pl.read_csv(csv, infer_schema=False)
    assert written["message"].to_list() == [*(f"'{text}" for text in hostile[:-1]), "plain"]
    assert written["reasons"].to_list() == ["a=b"] * 7  # a formula sign inside is no formula
    assert written["score"][0] == "-2.0"  # numbers are not text cells
    assert pl.read_parquet(parquet)["message"].to_list() == hostile
    assert pl.read_csv(owner_files[0], infer_schema=False)["account_owner"][0] == (
        "'=HYPERLINK(evil)"
    )


def test_owner_file_names_are_safe_readable_and_never_shared() -> None:
    stem = owner_file_stem("Ada Moreau")
    assert re.fullmatch(r"ada-moreau-[0-9a-f]{8}", stem)
    assert owner_file_stem("ada moreau") != stem  # same slug, other owner: other file
    assert re.fullmatch(r"renee-o-brien-[0-9a-f]{8}", owner_file_stem("Renée O'Brien"))
    assert re.fullmatch(r"etc-passwd-[0-9a-f]{8}", owner_file_stem("../../etc/passwd"))
    assert re.fullmatch(r"[0-9a-f]{8}", owner_file_stem("李雷"))  # nothing ASCII: the digest
    assert owner_file_stem(None) == "unassigned"
    assert len(owner_file_stem("x" * 300)) <= 49


def test_the_drop_writes_one_file_per_owner_with_the_routing_columns(tmp_path: Path) -> None:
    actions = tmp_path / "actions.parquet"
    pl.DataFrame(
        {
            "action_id": ["a1", "a2", "a3", "a4"],
            "delivered": [True, True, True, True],
            "priority": [2, 1, 3, None],
            "account_owner": ["Ada Moreau", "Bruno Silva", "Ada Moreau", None],
            "customer_name": ["Acme", "Blue", "Cedar", "Dune"],
            "plan": ["pro", "free", "pro", None],
            "value": [12000.0, 0.0, 900.0, None],
        }
    ).write_parquet(actions)
    drop = tmp_path / "drop"
    files = drop_for_crm.fn(str(actions), str(drop), date(2026, 3, 31), ("csv", "parquet"))
    by_owner = drop / "run_date=2026-03-31" / "by_owner"
    ada, bruno = owner_file_stem("Ada Moreau"), owner_file_stem("Bruno Silva")
    assert sorted(p.name for p in by_owner.iterdir()) == sorted(
        f"{stem}.{ext}" for stem in (ada, bruno, "unassigned") for ext in ("csv", "parquet")
    )
    assert {str(by_owner / f"{ada}.csv"), str(by_owner / f"{ada}.parquet")} <= set(files)
    for reader, ext in ((pl.read_csv, "csv"), (pl.read_parquet, "parquet")):
        mine = reader(by_owner / f"{ada}.{ext}")
        assert mine.select("action_id", "customer_name", "plan", "value").rows() == [
            ("a1", "Acme", "pro", 12000.0),
            ("a3", "Cedar", "pro", 900.0),
        ]
    whole = pl.read_csv(files[0])
    assert {"account_owner", "customer_name", "plan", "value", "priority"} <= set(whole.columns)
    # a rerun without Ada's actions leaves no stale file of hers
    pl.read_parquet(actions).filter(pl.col("customer_name") != "Acme").filter(
        pl.col("customer_name") != "Cedar"
    ).write_parquet(actions)
    drop_for_crm.fn(str(actions), str(drop), date(2026, 3, 31), ("csv",))
    assert sorted(p.name for p in by_owner.iterdir()) == sorted([f"{bruno}.csv", "unassigned.csv"])


def test_the_webhook_payload_carries_the_routing_columns() -> None:
    row = {
        "action_id": "2026-03-31:at_risk:c1:new",
        "message": "m",
        "delivered": True,
        "status": "new",
        "priority": 1,
        "priority_score": 6.2,
        "account_owner": "Ada Moreau",
        "customer_name": "Acme",
        "plan": "pro",
        "value": 12000.0,
    }
    payload = webhook_payload(row)
    assert json.loads(json.dumps(payload))["action"] == row
