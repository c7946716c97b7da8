"""Dialfire client against a scripted local HTTP server: encoding, retries, errors, secrecy."""

from __future__ import annotations

import json
import threading

import pytest
import requests

from producer.dialfire import (
    DialfireAuthError,
    DialfireClient,
    DialfireResponseError,
    DialfireUnavailableError,
    RetryPolicy,
)
from tests.producer.scripted_http import Reply, ScriptedServer

TOKEN = "tok+en/with=secret"
CURSOR = "ab+cd/ef=="  # '+', '/' and '=' must survive the round trip (W23)
NO_JITTER = RetryPolicy(attempts=4, base_delay=1.0, max_delay=8.0, rng=lambda lo, hi: hi)


def make_client(
    url: str, sleeps: list[float], retry: RetryPolicy = NO_JITTER, timeout: float = 5.0
) -> DialfireClient:
    return DialfireClient(
        requests.Session(), "CAMP 1", TOKEN, url, timeout=(2.0, timeout), retry=retry,
        sleep=sleeps.append,
    )  # fmt: skip


def page(results: list[object], cursor: str = "") -> Reply:
    return Reply(body={"count": len(results), "results": results, "cursor": cursor})


def test_cursors_and_filters_are_url_encoded_and_the_token_is_a_bearer_header() -> None:
    with ScriptedServer(page(["f|m|C1|0,0"], CURSOR), page(["f|m|C2|0,0"])) as server:
        client = make_client(server.url, [])
        pages = list(
            client.iter_transaction_events(
                "2026-01-01T00:00:00", "2026-01-02T00:00:00.5", {"tasks": "fc_,q&c=x"}
            )
        )
    assert [[ref.contact_id for ref in p] for p in pages] == [["C1"], ["C2"]]
    first, second = server.seen
    assert first.path == "/api/campaigns/CAMP%201/contacts/transactions/"
    assert first.query["tasks"] == "fc_,q&c=x" and first.query["limit"] == "1000"
    assert second.query["cursor"] == CURSOR
    assert "cursor=ab%2Bcd%2Fef%3D%3D" in second.raw_query
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_retried_post_sends_its_whole_body_again() -> None:
    contacts: list[dict[str, object]] = [
        {"$id": i, "$md5": "x", "$task_log": []} for i in ("A", "B")
    ]
    script = (Reply(drop=True), Reply(status=503), Reply(body=contacts))
    with ScriptedServer(*script) as server:
        sleeps: list[float] = []
        got = make_client(server.url, sleeps).fetch_contacts(["A", "B"])
    assert [c["$id"] for c in got] == ["A", "B"]
    assert len(server.seen) == 3
    assert all(json.loads(seen.body) == ["A", "B"] for seen in server.seen)  # W6
    assert all(seen.query == {"include_md5": "true"} for seen in server.seen)
    assert sleeps == [1.0, 2.0]  # exponential backoff (jitter pinned to its ceiling)


def test_retry_after_is_honoured_and_capped() -> None:
    script = (
        Reply(status=429, headers={"Retry-After": "7"}),
        Reply(status=429, headers={"Retry-After": "100000"}),
        Reply(body=[{"type": "field", "name": "x"}]),
    )
    with ScriptedServer(*script) as server:
        sleeps: list[float] = []
        fields = make_client(server.url, sleeps).fetch_fields()
    assert fields == [{"type": "field", "name": "x"}]
    assert sleeps == [7.0, NO_JITTER.retry_after_cap]


def test_after_the_last_attempt_the_error_is_raised_not_swallowed() -> None:
    with ScriptedServer(Reply(status=500)) as server:
        sleeps: list[float] = []
        with pytest.raises(DialfireUnavailableError, match="gave up after 4 attempts"):
            list(make_client(server.url, sleeps).iter_inbound_calls("2026-01-01", None))
    assert len(server.seen) == 4 and len(sleeps) == 3


def test_a_stalled_server_times_out_and_is_retried() -> None:
    stalled = threading.Event()
    script = (Reply(hold=stalled, body=[]), Reply(body=[{"id": "F"}]))
    with ScriptedServer(*script) as server:
        sleeps: list[float] = []
        fields = make_client(server.url, sleeps, timeout=0.3).fetch_fields()
        stalled.set()
    assert fields == [{"id": "F"}] and len(sleeps) == 1  # W24: no hang


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_token_raises_at_once_without_the_token(status: int) -> None:
    with ScriptedServer(Reply(status=status, body={"error": "forbidden"})) as server:
        client = make_client(server.url, [])
        with pytest.raises(DialfireAuthError) as caught:
            client.fetch_fields()
    message = str(caught.value)
    assert len(server.seen) == 1
    assert "CAMP 1" in message and "only visible to the user who activated" in message
    assert TOKEN not in message and TOKEN not in repr(client) and TOKEN not in repr(caught.value)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(raw=b'{"count": 1, "results": [{"id": "A", "md5"'),
        Reply(body={"count": 1, "results": "oops", "cursor": ""}),
        Reply(body={"count": 1, "results": [{"md5": "x"}], "cursor": ""}),
        Reply(status=400, body={"error": "bad"}),
    ],
    ids=["truncated-json", "results-not-a-list", "row-without-id", "http-400"],
)
def test_malformed_answers_raise_a_clear_response_error(reply: Reply) -> None:
    with ScriptedServer(reply) as server, pytest.raises(DialfireResponseError):
        list(make_client(server.url, []).iter_contact_md5s("2026-01-01T10:00:00"))
    assert len(server.seen) == 1
    assert server.seen[0].query["changedSince"] == "2026-01-01"
