"""Helpers for the webhook relay tests: events, producing, reading topics, running relays."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import Consumer, Producer, TopicPartition

from consumers.webhook.config import parse_config
from consumers.webhook.relay import WebhookRelay
from consumers.webhook.service import build_relay
from schemas import (
    CampaignId,
    ContactId,
    TransactionEvent,
    TransactionState,
    derive_event_id,
    derive_transaction_id,
    encode_event,
    message_key,
)
from schemas import headers as h
from schemas.events import split_transaction
from schemas.topics import dead_letter_topic
from tests.support.receiver import WebhookReceiver
from tests.support.waiting import wait_for

# Short backoff so ten attempts take well under a second; the rules are the same as production.
FAST_FLAGS = [
    "--retry-base-ms", "5", "--retry-max-ms", "40", "--probe-interval-ms", "200",
    "--probe-max-ms", "1000", "--wr", "100000", "--timeout-s", "5", "--session-timeout-ms", "6000",
]  # fmt: skip


def make_transaction(
    campaign: str,
    contact: str,
    seq: int,
    state: str = "new",
    extra: dict[str, object] | None = None,
) -> TransactionEvent:
    """A realistic transaction event: custom fields, a connection with a recording, unicode."""
    fired = f"2026-11-28T06:{seq // 60:02d}:{seq % 60:02d}.000Z"
    raw_transaction = {
        "fired": fired,
        "sequence_nr": seq,
        "type": "manual",
        "result": "success",
        "user": "agent.ö@example.com",
        "task": "call",
        "pointer": f"task_{seq}",
        "data": {"seq": seq, "nested": {"list": [1, 2.5, None, "x"], "big": 2**70}},
        "connections": [
            {
                "id": f"conn-{contact}-{seq}",
                "started": fired,
                "disconnected": fired,
                "remote_number": "+49301234567",
                "recordings": [{"location": f"https://rec.example/{contact}/{seq}.mp3"}],
            }
        ],
        **(extra or {}),
    }
    attributes, has_connections, connections = split_transaction(raw_transaction)
    return TransactionEvent(
        event_id=derive_event_id(campaign, "transaction", contact, str(seq), state),
        campaign_id=CampaignId(campaign),
        contact_id=ContactId(contact),
        version=1_000_000 + seq,
        observed_at=datetime.now(UTC),
        fired=fired,
        transaction_id=derive_transaction_id(contact, fired),
        state=TransactionState(state),
        task_log_index=seq,
        transaction_index=0,
        contact={"$id": contact, "$md5": f"md5-{seq}", "firstname": "Zoë", "custom_note": "x" * 50},
        transaction=attributes,
        connections=connections,
        has_connections=has_connections,
    )


def produce_events(bootstrap: str, topic: str, events: Sequence[TransactionEvent]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for event in events:
        producer.produce(
            topic,
            value=encode_event(event),
            key=message_key(event),
            headers=[(h.EVENT_ID, event.event_id.encode()), (h.EVENT_TYPE, b"transaction")],
        )
    assert producer.flush(30) == 0


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list[object]:
    """Read messages of `topic` from the beginning until `expected` arrived (then a bit more)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"reader-{os.urandom(4).hex()}",
         "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    )  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, 0)])
    messages: list[object] = []

    def enough() -> bool:
        messages.extend(m for m in consumer.consume(100, timeout=0.2) if m.error() is None)
        return len(messages) >= expected

    try:
        wait_for(enough, timeout=timeout, message=f"{expected} messages in {topic}")
        messages.extend(m for m in consumer.consume(100, timeout=0.5) if m.error() is None)
    finally:
        consumer.close()
    return messages


@dataclass
class Campaign:
    id: str
    topic: str
    group: str
    bootstrap: str

    @property
    def dlq_topic(self) -> str:
        return dead_letter_topic(self.id, self.group)


class RelayRunner:
    """Runs real relays in threads and stops them all at teardown."""

    def __init__(self, campaign: Campaign) -> None:
        self._campaign = campaign
        self._running: list[tuple[WebhookRelay, threading.Event, threading.Thread]] = []
        self.errors: list[BaseException] = []

    def start(self, url: str, *flags: str, env: dict[str, str] | None = None) -> WebhookRelay:
        argv = ["--url", url, "--campaign", self._campaign.id, "--group", self._campaign.group,
                "--bootstrap-servers", self._campaign.bootstrap, *FAST_FLAGS, *flags]  # fmt: skip
        relay = build_relay(parse_config(argv, env or {}))
        stop = threading.Event()

        def run() -> None:
            try:
                relay.run(stop)
            except BaseException as exc:  # surfaced by stop_all, never swallowed
                self.errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self._running.append((relay, stop, thread))
        return relay

    def stop(self, relay: WebhookRelay) -> None:
        """Stop one relay (clean shutdown: its partitions move to the others)."""
        for item in list(self._running):
            if item[0] is relay:
                item[1].set()
                item[2].join(60)
                assert not item[2].is_alive(), "relay did not stop within 60 s"
                self._running.remove(item)

    def stop_all(self) -> None:
        for _, stop, _ in self._running:
            stop.set()
        for _, _, thread in self._running:
            thread.join(60)
            assert not thread.is_alive(), "relay did not stop within 60 s"
        self._running.clear()
        assert not self.errors, f"relay thread failed: {self.errors!r}"


def wait_delivered(receiver: WebhookReceiver, event_ids: set[str], timeout: float = 60.0) -> None:
    wait_for(
        lambda: event_ids <= receiver.delivered_event_ids(),
        timeout=timeout,
        interval=0.1,
        message=f"{len(event_ids - receiver.delivered_event_ids())} events not delivered",
    )
