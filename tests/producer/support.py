"""Helpers for producer tests: read a whole topic, and derive expected events from ground truth."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from ops.truth.oracle import transaction_ids, transaction_selected
from schemas.codec import decode_event
from schemas.events import Event


@dataclass(frozen=True)
class TopicRecord:
    """One message read back from the events topic."""

    key: str
    event: Event
    headers: dict[str, str]
    partition: int
    offset: int


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Return the high watermark of each partition of `topic`."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in meta.partitions
        }
    finally:
        consumer.close()


def read_topic(bootstrap: str, topic: str) -> list[TopicRecord]:
    """Read every message currently on `topic`, partition by partition, in offset order."""
    ends = end_offsets(bootstrap, topic)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    records: list[TopicRecord] = []
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
        remaining = {p: end for p, end in ends.items() if end > 0}
        while remaining:
            msg = consumer.poll(10)
            assert msg is not None, f"timed out reading {topic}, missing {remaining}"
            assert msg.error() is None, msg.error()
            partition, offset = msg.partition() or 0, msg.offset() or 0
            headers = {str(h[0]): _text(h[1]) for h in (msg.headers() or [])}
            raw_key = msg.key() or b""
            key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
            records.append(TopicRecord(key, decode_event(msg.value()), headers, partition, offset))
            if offset + 1 >= remaining.get(partition, 0):
                remaining.pop(partition, None)
    finally:
        consumer.close()
    return sorted(records, key=lambda r: (r.partition, r.offset))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def entity_of(event: Event) -> tuple[str, str]:
    """Return (kind, entity id) of an event: contact id, transaction id or inbound call id."""
    kind = type(event).__name__
    if kind == "ContactSnapshot":
        return ("contact", str(event.contact_id))
    if kind == "TransactionEvent":
        return ("transaction", event.transaction_id)  # type: ignore[union-attr]
    return ("inbound_call", event.call_id)  # type: ignore[union-attr]


def expected_entities(
    truth: dict[str, Any], fm: str = "", fp: str = ""
) -> dict[tuple[str, str], dict[str, Any]]:
    """Map (kind, entity id) -> expected key and content, from /_sim/truth (the test oracle)."""
    expected: dict[tuple[str, str], dict[str, Any]] = {}
    selected: Callable[[dict[str, Any]], bool] = lambda tx: transaction_selected(tx, fm, fp)  # noqa: E731
    for contact in truth["contacts"]:
        cid = contact["$id"]
        plain = {k: v for k, v in contact.items() if k != "$task_log"}
        expected[("contact", cid)] = {"key": cid, "content": plain}
        ids = transaction_ids(contact)
        for tl_idx, entry in enumerate(contact.get("$task_log") or []):
            for ta_idx, tx in enumerate(entry.get("transactions") or []):
                if selected(tx):
                    expected[("transaction", ids[tl_idx][ta_idx])] = {
                        "key": cid,
                        "content": tx,
                        "position": (tl_idx, ta_idx),
                    }
    for call in truth["inbound_calls"]:
        key = call.get("contact_id") or f"inbound:{call['id']}"
        expected[("inbound_call", str(call["id"]))] = {"key": key, "content": call}
    return expected


def content_of(event: Event) -> dict[str, Any]:
    """Return what Dialfire delivered for the entity of an event, rebuilt from the event."""
    kind = type(event).__name__
    if kind == "ContactSnapshot":
        return dict(event.contact)  # type: ignore[union-attr]
    if kind == "TransactionEvent":
        return event.transaction_as_delivered()  # type: ignore[union-attr]
    return dict(event.call)  # type: ignore[union-attr]


def latest_by_entity(records: list[TopicRecord]) -> dict[tuple[str, str], TopicRecord]:
    """Return the highest-version record of each entity (what a consumer ends up holding)."""
    latest: dict[tuple[str, str], TopicRecord] = {}
    for record in records:
        entity = entity_of(record.event)
        if entity not in latest or record.event.version > latest[entity].event.version:
            latest[entity] = record
    return latest


def assert_topic_matches_truth(
    records: list[TopicRecord], truth: dict[str, Any], fm: str = "", fp: str = ""
) -> None:
    """Assert that the latest event of every entity equals the truth, and nothing else is there."""
    expected = expected_entities(truth, fm, fp)
    latest = latest_by_entity(records)
    assert set(latest) == set(expected), (
        f"missing {sorted(set(expected) - set(latest))[:5]}, "
        f"unexpected {sorted(set(latest) - set(expected))[:5]}"
    )
    for entity, want in expected.items():
        record = latest[entity]
        assert record.key == want["key"], entity
        assert content_of(record.event) == want["content"], entity
