"""Kafka chores of the conformance suite: scratch topics, publishing, running until caught up.

Everything talks to the broker given by the caller; each check uses a fresh campaign id, so its
topics and consumer groups never collide with another check or a real deployment.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumers.custom.wiring import build_running_group
from consumers.runtime.group import ConsumerGroup, GroupSpec
from schemas import Event, encode_event, message_key
from schemas import headers as h
from schemas.topics import dead_letter_topic, events_topic

# A check publishes < 200 events; 60 s covers a cold broker on a 2-core machine many times over.
CATCH_UP_SECONDS = 60.0
PARTITIONS = 3


@dataclass(frozen=True)
class Message:
    """One message to publish: an event, or raw bytes standing in for a poison message."""

    key: bytes
    value: bytes
    timestamp_ms: int | None = None


def messages_of(events: Sequence[Event]) -> list[Message]:
    """Encode events as they would be published (keyed by contact)."""
    return [Message(message_key(e), encode_event(e)) for e in events]


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


@contextlib.contextmanager
def scratch_campaign(bootstrap: str, group_name: str) -> Iterator[str]:
    """Create a fresh campaign's events and dead-letter topics; delete them afterwards."""
    campaign = f"conformance-{uuid.uuid4().hex[:10]}"
    topics = [events_topic(campaign), dead_letter_topic(campaign, group_name)]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topics[0], PARTITIONS), NewTopic(topics[1], 1)])
    for future in futures.values():
        future.result(timeout=30)

    def ready() -> bool:
        meta = admin.list_topics(timeout=5).topics
        return all(t in meta and not meta[t].error for t in topics)

    _wait(ready, 30, "scratch topics")
    try:
        yield campaign
    finally:
        for future in admin.delete_topics(topics, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)


def publish(bootstrap: str, topic: str, messages: Sequence[Message]) -> None:
    """Publish messages in order and wait until Kafka acknowledged all of them."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for msg in messages:
        if msg.timestamp_ms is None:
            producer.produce(topic, key=msg.key, value=msg.value)
        else:
            producer.produce(topic, key=msg.key, value=msg.value, timestamp=msg.timestamp_ms)
    if producer.flush(30):
        raise AssertionError("the conformance producer could not publish its events")


def committed_all(bootstrap: str, group_id: str, topic: str) -> bool:
    """Return True when the group committed every partition of `topic` up to its end offset."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id})
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        committed = {tp.partition: tp.offset for tp in probe.committed(parts, timeout=10)}
        for tp in parts:
            low, high = probe.get_watermark_offsets(tp, timeout=10)
            if high > low and committed.get(tp.partition, -1) < high:
                return False
        return True
    finally:
        probe.close()


@contextlib.contextmanager
def _group_in_thread(
    bootstrap: str, spec: GroupSpec, group: ConsumerGroup, name: str
) -> Iterator[list[BaseException]]:
    """Run `group` in a thread; yield the list its exception lands in; stop it on exit."""
    running = build_running_group(bootstrap, spec, group)
    stop = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            running.run(stop)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    try:
        yield failure
    finally:
        stop.set()
        thread.join(timeout=30)


def run_until_caught_up(bootstrap: str, spec: GroupSpec, group: ConsumerGroup) -> None:
    """Run `group` until it committed the whole topic, then stop it gracefully."""
    topic = events_topic(spec.campaign)
    with _group_in_thread(bootstrap, spec, group, f"conformance-{spec.name}") as failure:
        _wait(
            lambda: bool(failure) or committed_all(bootstrap, spec.group_id, topic),
            CATCH_UP_SECONDS,
            f"group {spec.group_id} to commit all of {topic}",
        )
    if failure:
        raise AssertionError(f"the group stopped with {failure[0]!r}") from failure[0]


def run_until_crash(bootstrap: str, spec: GroupSpec, group: ConsumerGroup) -> BaseException:
    """Run `group` until it raises (a simulated crash); return what it raised."""
    with _group_in_thread(bootstrap, spec, group, f"conformance-crash-{spec.name}") as failure:
        _wait(lambda: bool(failure), CATCH_UP_SECONDS, f"group {spec.group_id} to crash")
    return failure[0]


def read_dead_letters(bootstrap: str, topic: str) -> list[dict[str, str]]:
    """Return the headers of every message in a one-partition dead-letter topic."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"dlq-reader-{uuid.uuid4().hex[:8]}"}
    )
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, low)])
        out: list[dict[str, str]] = []
        deadline = time.monotonic() + 30
        while len(out) < high - low and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=100, timeout=1.0):
                if msg.error() is None:
                    headers: Any = msg.headers() or []
                    out.append({str(k): bytes(v or b"").decode() for k, v in headers})
        return out
    finally:
        consumer.close()


def dead_letter_offsets(letters: Sequence[dict[str, str]]) -> list[tuple[int, int]]:
    """Return the original (partition, offset) of each dead letter."""
    return sorted(
        (int(x[h.DLQ_ORIGINAL_PARTITION]), int(x[h.DLQ_ORIGINAL_OFFSET])) for x in letters
    )
