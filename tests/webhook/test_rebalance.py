"""Instances joining and leaving the group share the partitions without losing or reordering."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.support.receiver import WebhookReceiver
from tests.support.waiting import wait_for
from tests.webhook.helpers import (
    Campaign,
    RelayRunner,
    make_transaction,
    produce_events,
    read_topic,
    wait_delivered,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_join_and_leave_keep_every_event_and_contact_order(
    campaign: Campaign, receiver: WebhookReceiver, relay_runner: RelayRunner
) -> None:
    receiver.set_latency(0.01, 0.04)
    first_batch = [make_transaction(campaign.id, f"c{i % 60}", i) for i in range(600)]
    produce_events(campaign.bootstrap, campaign.topic, first_batch)
    a = relay_runner.start(receiver.url, "--w", "4")
    wait_for(lambda: len(receiver.delivered()) >= 60, timeout=60, message="no progress")
    b = relay_runner.start(receiver.url, "--w", "4")  # joins: takes some partitions
    wait_for(lambda: b.stats.delivered > 0, timeout=60, message="the new instance got nothing")
    relay_runner.stop(a)  # leaves: its partitions move to b
    second_batch = [make_transaction(campaign.id, f"c{i % 60}", i) for i in range(600, 700)]
    produce_events(campaign.bootstrap, campaign.topic, second_batch)
    wait_delivered(receiver, {e.event_id for e in first_batch + second_batch}, timeout=120)
    assert b.wait_caught_up(30)
    assert a.stats.delivered > 0 and a.stats.dead_lettered == b.stats.dead_lettered == 0
    # First deliveries of each contact are in sequence order across both instances.
    first_seen: dict[str, list[int]] = defaultdict(list)
    seen: set[str] = set()
    for request in receiver.delivered():
        if request.event_id not in seen:
            seen.add(request.event_id)
            first_seen[request.contact_id].append(request.payload["transaction"]["sequence_nr"])
    assert all(seqs == sorted(seqs) for seqs in first_seen.values())
    assert len(first_seen) == 60
    relay_runner.stop_all()
    assert read_topic(campaign.bootstrap, campaign.dlq_topic, 0, timeout=2) == []
