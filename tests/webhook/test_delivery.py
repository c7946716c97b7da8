"""The relay POSTs the original payload with the specified headers and a verifiable signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from schemas import ContactSnapshot, EventId, encode_event, message_key
from tests.support.receiver import WebhookReceiver
from tests.webhook.helpers import (
    Campaign,
    RelayRunner,
    make_transaction,
    produce_events,
    wait_delivered,
)

pytestmark = pytest.mark.integration

SECRET_BYTES = b"0123456789abcdef-not-a-real-key!"
SECRET = "whsec_" + base64.b64encode(SECRET_BYTES).decode()


def reference_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> list[str]:
    """Standard Webhooks verification, written from the spec (not from the relay's code)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    to_sign = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return ["v1," + base64.b64encode(hmac.new(key, to_sign, hashlib.sha256).digest()).decode()]


def test_payload_headers_and_signature_are_exact(
    campaign: Campaign, receiver: WebhookReceiver, relay_runner: RelayRunner, tmp_path: Path
) -> None:
    events = [make_transaction(campaign.id, f"c{i % 4}", i, "new" if i < 6 else "updated")
              for i in range(10)]  # fmt: skip
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    produce_events(campaign.bootstrap, campaign.topic, events)
    # A contact snapshot on the same topic is not a transaction: it must not be sent.
    snapshot = ContactSnapshot(
        event_id=EventId("snap1"),
        campaign_id=events[0].campaign_id,
        contact_id=events[0].contact_id,
        version=1,
        observed_at=events[0].observed_at,
        contact={"$id": "c0"},
    )
    producer = Producer({"bootstrap.servers": campaign.bootstrap})
    producer.produce(campaign.topic, encode_event(snapshot), message_key(snapshot))
    assert producer.flush(10) == 0

    before = int(time.time())
    relay = relay_runner.start(
        receiver.url,
        "--signing-secret-file", str(secret_file),
        "--header", "Authorization: Bearer top-secret-token",
        "--header", "X-Tenant: acme",
    )  # fmt: skip
    wait_delivered(receiver, {e.event_id for e in events})
    assert relay.wait_caught_up(30)
    after = int(time.time())

    received = receiver.delivered()
    assert len(received) == len(events)  # one POST each, the snapshot not sent
    by_id = {r.event_id: r for r in received}
    for event in events:
        request = by_id[event.event_id]
        assert request.method == "POST"
        assert request.path == "/hook?token=receiver-query-secret"
        # Body: exactly the original payload, nothing dropped, byte-identical to json.dumps.
        assert request.body == json.dumps(event.webhook_payload()).encode()
        payload = request.payload
        assert set(payload) == {"contact", "transaction", "state"}
        assert payload["state"] == event.state.value
        assert payload["contact"] == {
            "$id": event.contact_id,
            "$md5": event.contact["$md5"],
            "firstname": "Zoë",
            "custom_note": "x" * 50,
        }
        seq = event.task_log_index
        assert payload["transaction"]["data"] == {
            "seq": seq,
            "nested": {"list": [1, 2.5, None, "x"], "big": 2**70},
        }
        assert payload["transaction"]["connections"][0]["recordings"] == [
            {"location": f"https://rec.example/{event.contact_id}/{seq}.mp3"}
        ]
        assert payload["transaction"]["sequence_nr"] == seq
        assert payload["transaction"]["user"] == "agent.ö@example.com"
        headers = request.headers
        assert headers["content-type"] == "application/json"
        assert headers["idempotency-key"] == event.event_id
        assert headers["webhook-id"] == event.event_id
        assert before <= int(headers["webhook-timestamp"]) <= after
        assert headers["authorization"] == "Bearer top-secret-token"
        assert headers["x-tenant"] == "acme"
        expected = reference_signature(
            SECRET, headers["webhook-id"], headers["webhook-timestamp"], request.body
        )
        assert headers["webhook-signature"].split(" ")[0] in expected
    states = {r.payload["state"] for r in received}
    assert states == {"new", "updated"}
    assert relay.stats.skipped == 1


def test_raw_secret_from_environment_signs_with_its_utf8_bytes(
    campaign: Campaign, receiver: WebhookReceiver, relay_runner: RelayRunner
) -> None:
    event = make_transaction(campaign.id, "raw", 1)
    produce_events(campaign.bootstrap, campaign.topic, [event])
    relay_runner.start(receiver.url, env={"DBSYNC_WEBHOOK_SECRET": "plain secret ü"})
    wait_delivered(receiver, {event.event_id})
    request = receiver.delivered()[0]
    ts = request.headers["webhook-timestamp"]
    mac = hmac.new(
        "plain secret ü".encode(), f"{event.event_id}.{ts}.".encode() + request.body, "sha256"
    )
    assert request.headers["webhook-signature"] == "v1," + base64.b64encode(mac.digest()).decode()


def test_no_signature_header_without_a_secret(
    campaign: Campaign, receiver: WebhookReceiver, relay_runner: RelayRunner
) -> None:
    event = make_transaction(campaign.id, "nosig", 1)
    produce_events(campaign.bootstrap, campaign.topic, [event])
    relay_runner.start(receiver.url)
    wait_delivered(receiver, {event.event_id})
    headers = receiver.delivered()[0].headers
    assert "webhook-signature" not in headers
    assert headers["webhook-id"] == event.event_id
