"""An endpoint outage opens the breaker (nothing dead-lettered); per-contact order always holds."""

from __future__ import annotations

import os
from collections import defaultdict

import pytest

from tests.support.receiver import ReceivedRequest, WebhookReceiver
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

# The issue asks for a 60 s outage; DBSYNC_TEST_OUTAGE_S may shorten it on a laptop.
OUTAGE_S = float(os.environ.get("DBSYNC_TEST_OUTAGE_S", "60"))


def assert_contact_order(requests: list[ReceivedRequest]) -> int:
    """Successful receipts of each contact arrive in sequence order; return the contact count."""
    seen: dict[str, list[int]] = defaultdict(list)
    for request in sorted(requests, key=lambda r: r.seq):
        if request.ok:
            seen[request.contact_id].append(request.payload["transaction"]["sequence_nr"])
    for contact, seqs in seen.items():
        assert seqs == sorted(seqs), f"contact {contact} out of order: {seqs}"
    return len(seen)


def test_outage_opens_the_breaker_and_nothing_is_dead_lettered(
    campaign: Campaign, receiver: WebhookReceiver, relay_runner: RelayRunner
) -> None:
    before = [make_transaction(campaign.id, f"c{i % 12}", i) for i in range(60)]
    during = [make_transaction(campaign.id, f"c{i % 12}", i) for i in range(60, 120)]
    receiver.down_for(OUTAGE_S)
    produce_events(campaign.bootstrap, campaign.topic, before)
    relay = relay_runner.start(receiver.url, "--w", "16")
    wait_for(lambda: relay.stats.breaker_opened >= 1, timeout=30, message="breaker never opened")
    produce_events(campaign.bootstrap, campaign.topic, during)
    attempts_when_open = relay.stats.attempts
    assert relay.stats.delivered == 0
    wait_delivered(receiver, {e.event_id for e in before + during}, timeout=OUTAGE_S + 60)
    assert relay.wait_caught_up(30)
    assert relay.stats.dead_lettered == 0
    # While open it probed (one at a time, backing off) instead of hammering the endpoint.
    probes = relay.stats.attempts - attempts_when_open - len(before + during)
    assert 0 <= probes <= OUTAGE_S / 0.1
    assert assert_contact_order(receiver.requests()) == 12
    relay_runner.stop_all()
    assert read_topic(campaign.bootstrap, campaign.dlq_topic, 0, timeout=2) == []


def test_per_contact_order_under_64_in_flight_with_random_latency(
    campaign: Campaign, receiver: WebhookReceiver, relay_runner: RelayRunner
) -> None:
    receiver.set_latency(0.0, 0.03)
    receiver.fail_first(1, status=409)  # every event is retried once: order must survive it
    events = [make_transaction(campaign.id, f"c{i % 80}", i) for i in range(800)]
    produce_events(campaign.bootstrap, campaign.topic, events)
    relay = relay_runner.start(receiver.url, "--w", "64")
    peak = 0

    def all_delivered() -> bool:
        nonlocal peak
        peak = max(peak, concurrent_requests(receiver))
        return {e.event_id for e in events} <= receiver.delivered_event_ids()

    wait_for(all_delivered, timeout=120, interval=0.02, message="not all delivered")
    assert assert_contact_order(receiver.requests()) == 80
    assert len(receiver.requests()) == 2 * len(events)
    assert relay.stats.dead_lettered == 0
    assert peak > 8, f"expected real concurrency, saw at most {peak} requests in flight"


def concurrent_requests(receiver: WebhookReceiver) -> int:
    """How many of the last requests overlapped in time (a lower bound on requests in flight)."""
    recent = receiver.requests()[-200:]
    if not recent:
        return 0
    horizon = recent[-1].monotonic - 0.03
    return sum(1 for r in recent if r.monotonic >= horizon)


def test_backpressure_pauses_consumption_and_bounds_the_buffer(
    campaign: Campaign, receiver: WebhookReceiver, relay_runner: RelayRunner
) -> None:
    receiver.set_latency(0.005, 0.01)
    events = [make_transaction(campaign.id, f"c{i % 5}", i) for i in range(1500)]
    produce_events(campaign.bootstrap, campaign.topic, events)
    relay = relay_runner.start(receiver.url, "--w", "8", "--max-buffered", "100")
    wait_delivered(receiver, {e.event_id for e in events}, timeout=120)
    assert relay.stats.backpressure_pauses >= 2  # paused, resumed below 50, paused again
    # Batches are sized to the room left, so at most one event lands on top of the limit before
    # the pause takes effect; nothing more arrives while paused.
    assert relay.stats.max_buffered_seen <= 100 + 1
    assert assert_contact_order(receiver.requests()) == 5
