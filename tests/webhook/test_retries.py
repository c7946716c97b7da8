"""Failed attempts are retried; after the 10th the event goes to the dead-letter topic."""

from __future__ import annotations

import itertools
import logging
from datetime import datetime

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from schemas import DEAD_LETTERS, decode_event, encode_event
from schemas import headers as h
from tests.support.receiver import WebhookReceiver
from tests.webhook.helpers import (
    Campaign,
    RelayRunner,
    make_transaction,
    produce_events,
    read_topic,
    wait_delivered,
)

pytestmark = pytest.mark.integration


def test_fail_first_n_is_delivered_and_nothing_is_dead_lettered(
    campaign: Campaign, receiver: WebhookReceiver, relay_runner: RelayRunner
) -> None:
    receiver.fail_first(7, status=500)
    events = [make_transaction(campaign.id, f"c{i}", i) for i in range(3)]
    produce_events(campaign.bootstrap, campaign.topic, events)
    relay = relay_runner.start(receiver.url)
    wait_delivered(receiver, {e.event_id for e in events})
    assert relay.wait_caught_up(30)
    for event in events:
        tries = [r for r in receiver.requests() if r.event_id == event.event_id]
        assert [r.status for r in tries] == [500] * 7 + [200]
        assert len({r.body for r in tries}) == 1  # the body is rebuilt, never empty (W6)
    assert relay.stats.dead_lettered == 0
    relay_runner.stop_all()
    assert read_topic(campaign.bootstrap, campaign.dlq_topic, 0, timeout=2) == []


def test_always_500_for_one_contact_dead_letters_after_exactly_10_attempts(
    campaign: Campaign, receiver: WebhookReceiver, relay_runner: RelayRunner
) -> None:
    receiver.always("bad", 500)
    receiver.set_failure_body(
        "boom " + "y" * 600 + " Bearer top-secret-token leaked by the receiver"
    )
    bad = [make_transaction(campaign.id, "bad", i) for i in range(2)]
    good = [make_transaction(campaign.id, f"good{i}", 10 + i) for i in range(20)]
    produce_events(campaign.bootstrap, campaign.topic, [bad[0], *good, bad[1]])
    relay = relay_runner.start(receiver.url, "--header", "Authorization: Bearer top-secret-token")
    wait_delivered(receiver, {e.event_id for e in good})
    letters = read_topic(campaign.bootstrap, campaign.dlq_topic, 2)
    assert len(letters) == 2
    assert relay.wait_caught_up(30)
    # Other contacts were unaffected: one attempt each, all delivered.
    for event in good:
        assert [r.status for r in receiver.requests() if r.event_id == event.event_id] == [200]
    # Order within the bad contact holds even when both are dead-lettered.
    assert [decode_event(m.value()).event_id for m in letters] == [e.event_id for e in bad]
    for event, letter in zip(bad, letters, strict=True):
        tries = [r for r in receiver.requests() if r.event_id == event.event_id]
        assert len(tries) == 10
        headers = {k: v.decode() for k, v in letter.headers()}
        assert letter.key() == b"bad"
        assert letter.value() == encode_event(event)  # the original bytes, unchanged
        assert headers[h.DLQ_ORIGINAL_TOPIC] == campaign.topic
        assert int(headers[h.DLQ_ORIGINAL_PARTITION]) in (0, 1, 2)
        assert int(headers[h.DLQ_ORIGINAL_OFFSET]) >= 0
        assert headers[h.DLQ_ATTEMPTS] == "10"
        assert headers[h.DLQ_LAST_STATUS] == "500"
        assert headers[h.DLQ_GROUP] == campaign.group
        assert headers[h.EVENT_ID] == event.event_id
        excerpt = headers[h.DLQ_RESPONSE_EXCERPT]
        assert excerpt.startswith("boom yyy") and len(excerpt) <= 500
        first = datetime.fromisoformat(headers[h.DLQ_FIRST_ATTEMPT_AT])
        last = datetime.fromisoformat(headers[h.DLQ_LAST_ATTEMPT_AT])
        assert abs(first.timestamp() - tries[0].wall_time) < 2
        assert abs(last.timestamp() - tries[-1].wall_time) < 2
        assert first < last
    assert relay.stats.breaker_opened == 0
    # The dead-letter topic was created from the catalogue's spec.
    admin = AdminClient({"bootstrap.servers": campaign.bootstrap})
    topic = admin.list_topics(campaign.dlq_topic, timeout=10).topics[campaign.dlq_topic]
    assert len(topic.partitions) == DEAD_LETTERS.partitions
    resource = ConfigResource(ConfigResource.Type.TOPIC, campaign.dlq_topic)
    config = admin.describe_configs([resource])[resource].result(10)
    assert config["retention.ms"].value == str(DEAD_LETTERS.retention_ms)


def test_secrets_never_reach_the_dead_letter_excerpt_or_logs(
    campaign: Campaign,
    receiver: WebhookReceiver,
    relay_runner: RelayRunner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="consumers")
    receiver.always("leaky", 400)
    receiver.set_failure_body(
        "echo: Authorization=Bearer top-secret-token, key=whsec_c2VjcmV0c2VjcmV0"
    )
    event = make_transaction(campaign.id, "leaky", 1)
    produce_events(campaign.bootstrap, campaign.topic, [event])
    relay_runner.start(
        receiver.url,
        "--header", "Authorization: Bearer top-secret-token",
        env={"DBSYNC_WEBHOOK_SECRET": "whsec_c2VjcmV0c2VjcmV0"},
    )  # fmt: skip
    [letter] = read_topic(campaign.bootstrap, campaign.dlq_topic, 1)
    headers = {k: v.decode() for k, v in letter.headers()}
    assert headers[h.DLQ_LAST_STATUS] == "400"
    assert "top-secret-token" not in str(headers) and "c2VjcmV0" not in str(headers)
    assert headers[h.DLQ_RESPONSE_EXCERPT] == "echo: Authorization=***, key=***"
    assert "dead-lettered after 10 attempts" in caplog.text
    for secret in ("top-secret-token", "c2VjcmV0", "receiver-query-secret"):
        assert secret not in caplog.text


def test_retry_after_is_honoured(
    campaign: Campaign, receiver: WebhookReceiver, relay_runner: RelayRunner
) -> None:
    receiver.fail_first(2, status=429)
    receiver.set_failure_body("slow down", retry_after="1")
    event = make_transaction(campaign.id, "ra", 1)
    produce_events(campaign.bootstrap, campaign.topic, [event])
    relay_runner.start(receiver.url)
    wait_delivered(receiver, {event.event_id})
    times = [r.monotonic for r in receiver.requests()]
    assert len(times) == 3
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(times))
