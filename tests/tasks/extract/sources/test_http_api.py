"""HTTP API source against a local server that paginates, throttles and fails on purpose."""

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from tasks.extract.sources.base import ExtractWindow, SourceError
from tasks.extract.sources.config import HttpSourceConfig
from tasks.extract.sources.http_api import HttpSource
from tasks.retry import retry_after_seconds
from tests.servers import EventsApi

RECORDS = [
    {
        "id": f"e{i}",
        "user_id": f"c{i % 3}",
        "name": "login",
        "ts": f"2026-03-{10 + i:02d}T12:00:00Z",
    }
    for i in range(7)
]
EVERYTHING = ExtractWindow(start=None, end=datetime(2026, 4, 1, tzinfo=UTC))
MAPPING = {"id": "event_id", "user_id": "customer_id", "name": "event_type", "ts": "occurred_at"}


@pytest.fixture
def api(events_api: Callable[..., EventsApi]) -> EventsApi:
    return events_api(RECORDS, time_field="ts")


def _source(api: EventsApi, sleeps: list[float], **settings: object) -> HttpSource:
    config = HttpSourceConfig(
        name="product", url=api.url, page_size=3, columns=MAPPING, backoff_s=0.5, **settings
    )
    return HttpSource(config, sleep=sleeps.append)


def test_pages_are_followed_to_the_end(api: EventsApi) -> None:
    sleeps: list[float] = []
    frame = _source(api, sleeps).read(EVERYTHING).collect()
    assert frame["event_id"].to_list() == [f"e{i}" for i in range(7)]
    assert frame["source_file"].unique().to_list() == ["http:product"]
    assert [q.get("cursor") for q in api.requests] == [None, ["3"], ["6"]]
    assert api.requests[0]["limit"] == ["3"]
    assert sleeps == []


def test_the_time_window_is_sent_to_the_server(api: EventsApi) -> None:
    window = ExtractWindow(datetime(2026, 3, 12, tzinfo=UTC), datetime(2026, 3, 14, tzinfo=UTC))
    frame = _source(api, []).read(window).collect()
    assert frame["event_id"].to_list() == ["e2", "e3"]
    assert api.requests[0]["since"] == ["2026-03-12T00:00:00Z"]
    assert api.requests[0]["until"] == ["2026-03-14T00:00:00Z"]


def test_throttling_waits_retry_after_and_a_failed_page_is_retried_once(api: EventsApi) -> None:
    # request 2 (the 2nd page) is throttled, its retry (3) fails with 500, then it succeeds
    api.behaviour.throttle_requests = {2}
    api.behaviour.retry_after = "7"
    api.behaviour.failing_requests = {3}
    sleeps: list[float] = []
    source = _source(api, sleeps)
    frame = source.read(EVERYTHING).collect()
    # nothing lost, nothing twice
    assert frame["event_id"].to_list() == [f"e{i}" for i in range(7)]
    assert [q.get("cursor") for q in api.requests] == [None, ["3"], ["3"], ["3"], ["6"]]
    # Retry-After honoured (7 s); the 500 waits the backoff of the 2nd attempt: 0.5 * 2
    assert sleeps == [7.0, 1.0]
    assert source.requests == 5


def test_retry_after_is_capped_by_max_backoff(api: EventsApi) -> None:
    api.behaviour.throttle_requests = {1}
    api.behaviour.retry_after = "3600"
    sleeps: list[float] = []
    _source(api, sleeps, max_backoff_s=30).read(EVERYTHING).collect()
    assert sleeps == [30.0]


def test_persistent_failure_gives_up_naming_the_source(api: EventsApi) -> None:
    api.behaviour.failing_requests = {2, 3, 4}
    sleeps: list[float] = []
    with pytest.raises(SourceError, match=r"source 'product': .* failed 3 times, last: HTTP 500"):
        _source(api, sleeps, max_retries=2).read(EVERYTHING)
    assert sleeps == [0.5, 1.0]  # exponential backoff: 0.5, 0.5 * 2


def test_a_request_tried_once_says_once(api: EventsApi) -> None:
    """With max_retries 0 the error said "failed 1 times"."""
    api.behaviour.failing_requests = {1}
    with pytest.raises(SourceError, match=r"/events failed once, last: HTTP 500; check the"):
        _source(api, [], max_retries=0).read(EVERYTHING)
    assert len(api.requests) == 1


def test_a_client_error_stops_at_once_with_what_to_check(api: EventsApi) -> None:
    api.behaviour.status_override = 404
    sleeps: list[float] = []
    with pytest.raises(
        SourceError, match=r"source 'product': .* answered HTTP 404 .*check the URL"
    ):
        _source(api, sleeps).read(EVERYTHING)
    assert len(api.requests) == 1
    assert sleeps == []


def test_a_key_in_the_url_is_not_quoted_in_errors(api: EventsApi) -> None:
    api.behaviour.status_override = 404
    config = HttpSourceConfig(name="product", url=f"{api.url}?api_key=S3cr3tPw", max_retries=0)
    with pytest.raises(SourceError, match=r"answered HTTP 404") as raised:
        HttpSource(config, sleep=lambda _: None).read(EVERYTHING)
    assert f"{api.url} answered" in str(raised.value)
    assert "S3cr3tPw" not in str(raised.value)


def test_the_token_comes_from_the_environment(
    api: EventsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.behaviour.token = "tok-123"
    monkeypatch.delenv("EVENTS_API_TOKEN", raising=False)
    with pytest.raises(SourceError, match=r"EVENTS_API_TOKEN is not set"):
        _source(api, [], token_env="EVENTS_API_TOKEN").read(EVERYTHING)
    monkeypatch.setenv("EVENTS_API_TOKEN", "tok-not-this-one")
    with pytest.raises(SourceError, match="HTTP 401") as raised:
        _source(api, [], token_env="EVENTS_API_TOKEN").read(EVERYTHING)
    assert "tok-not-this-one" not in str(raised.value)
    monkeypatch.setenv("EVENTS_API_TOKEN", "tok-123")
    assert _source(api, [], token_env="EVENTS_API_TOKEN").read(EVERYTHING).collect().height == 7


def test_an_answer_echoing_the_token_is_redacted_in_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"rejected": request.headers["Authorization"]})

    token = "tok-echoed-b7c2e1"
    monkeypatch.setenv("ECHO_API_TOKEN", token)
    config = HttpSourceConfig(name="echo", url="http://api.test/events", token_env="ECHO_API_TOKEN")
    client = httpx.Client(transport=httpx.MockTransport(echo))
    with pytest.raises(SourceError, match=r"HTTP 401 .*Bearer \*{10}") as raised:
        HttpSource(config, client=client).read(EVERYTHING)
    assert token not in str(raised.value)


def _answering(*records: dict[str, object]) -> httpx.Client:
    answer = {"events": list(records), "next_cursor": None}
    return httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, json=answer)))


def test_nested_values_are_kept_as_their_json_text() -> None:
    """A list or object in a record ended the run with a Polars cast error (exit 1)."""
    record = {**RECORDS[0], "tags": [1, 2], "context": {"device": "ios"}}
    config = HttpSourceConfig(name="api", url="http://api.test/events", columns=MAPPING)
    frame = HttpSource(config, client=_answering(record)).read(EVERYTHING).collect()
    assert frame.select("event_id", "tags", "context").rows() == [
        ("e0", "[1,2]", '{"device":"ios"}')
    ]


def test_a_nested_id_is_an_error_naming_the_field() -> None:
    record = {**RECORDS[0], "user_id": {"id": 7}}
    config = HttpSourceConfig(name="api", url="http://api.test/events?key=s3", columns=MAPPING)
    with pytest.raises(
        SourceError, match=r"field 'user_id' of the 'events' of http://api\.test/ev"
    ):
        HttpSource(config, client=_answering(record)).read(EVERYTHING)


def test_a_timeout_is_retried() -> None:
    import socket

    # a server that accepts and never answers
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        config = HttpSourceConfig(
            name="slow", url=f"http://127.0.0.1:{port}/events", timeout_s=0.2, max_retries=1
        )
        sleeps: list[float] = []
        with pytest.raises(SourceError, match=r"failed 2 times, last: no answer within 0.2 s"):
            HttpSource(config, sleep=sleeps.append).read(EVERYTHING)
        assert sleeps == [1.0]


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 3, 31, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Tue, 31 Mar 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("12", now) == 12.0
    assert retry_after_seconds("soon", now) is None


def test_no_records_is_an_empty_frame(api: EventsApi) -> None:
    window = ExtractWindow(datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC))
    frame = _source(api, []).read(window).collect()
    assert frame.height == 0
    assert {"event_id", "customer_id", "event_type", "occurred_at"} <= set(frame.columns)


def test_an_answer_without_the_records_field_says_which_setting_to_fix(api: EventsApi) -> None:
    api.behaviour.status_override = 200  # answers {"error": ...}
    with pytest.raises(SourceError, match=r"without a 'events' list; set `records_field`"):
        _source(api, []).read(EVERYTHING)
