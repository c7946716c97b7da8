"""The relay's buffer is bounded in payload bytes: wide events pause intake, nothing is lost."""

from __future__ import annotations

import pytest

from schemas import encode_event
from tests.support.receiver import WebhookReceiver
from tests.webhook.helpers import (
    Campaign,
    RelayRunner,
    make_transaction,
    produce_events,
    wait_delivered,
)
from tests.webhook.test_outage_and_order import assert_contact_order

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIMIT = 1024 * 1024  # 1 MiB of payload: about 50 of the 20 kB events below


def test_buffered_bytes_stay_within_the_byte_bound_and_everything_is_delivered(
    campaign: Campaign, receiver: WebhookReceiver, relay_runner: RelayRunner
) -> None:
    receiver.set_latency(0.005, 0.01)  # slower than intake: the buffer fills up
    wide: dict[str, object] = {"notes": "ü" * 10_000}  # 20 kB of UTF-8 per event
    events = [make_transaction(campaign.id, f"c{i % 20}", i, extra=wide) for i in range(400)]
    largest = max(len(encode_event(e)) for e in events) + 64  # + the key
    produce_events(campaign.bootstrap, campaign.topic, events)
    # The event-count limit stays far away (10,000): only the byte bound can pause intake.
    relay = relay_runner.start(receiver.url, "--w", "4", "--max-buffered-bytes", str(LIMIT))
    wait_delivered(receiver, {e.event_id for e in events}, timeout=120)
    assert relay.stats.delivered == len(events)
    assert relay.stats.dead_lettered == 0
    assert relay.stats.backpressure_pauses >= 2  # paused, resumed below half, paused again
    # Batches are sized to the room left, so the buffer overshoots by about one event at most.
    assert LIMIT < relay.stats.max_buffered_bytes_seen <= LIMIT + 2 * largest
    assert relay.stats.max_buffered_seen < 400 // 4  # far from the whole backlog
    assert assert_contact_order(receiver.requests()) == 20
