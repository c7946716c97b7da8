"""Read what the checks need from Kafka: end offsets, a group's committed offsets, whole topics."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

TIMEOUT = 15.0


@dataclass(frozen=True)
class Message:
    """One record as read back."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    timestamp_ms: int


def _probe(bootstrap: str) -> Any:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"dbsync2-chaos-probe-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition -> high watermark; {} when the topic does not exist yet."""
    consumer = _probe(bootstrap)
    try:
        meta = consumer.list_topics(topic, timeout=TIMEOUT).topics.get(topic)
        if meta is None or meta.error is not None:
            return {}
        return {
            p: int(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT)[1])
            for p in meta.partitions
        }
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """Partition -> the group's committed offset in Kafka (missing when none)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(group)
    future = admin.list_consumer_group_offsets([request], request_timeout=TIMEOUT)[group]
    answer = future.result(timeout=TIMEOUT)
    return {
        tp.partition: int(tp.offset)
        for tp in answer.topic_partitions or []
        if tp.topic == topic and tp.offset >= 0
    }


def behind(ends: dict[int, int], done: dict[int, int]) -> int:
    """Messages between `done` and `ends`, summed over partitions."""
    return sum(max(end - done.get(p, 0), 0) for p, end in ends.items())


def read_topic(bootstrap: str, topic: str, timeout: float = 120.0) -> Iterator[Message]:
    """Every record of `topic` from the beginning up to the current end offsets."""
    import time

    ends = end_offsets(bootstrap, topic)
    todo = {p: end for p, end in ends.items() if end > 0}
    if not todo:
        return
    consumer = _probe(bootstrap)
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in todo])
        deadline = time.monotonic() + timeout
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic}: partitions {sorted(todo)} not finished")
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error() is not None:
                continue
            part, offset = msg.partition(), msg.offset()
            headers = {k: (v or b"").decode("utf-8", "replace") for k, v in msg.headers() or []}
            yield Message(part, offset, msg.key(), msg.value(), headers, msg.timestamp()[1])
            if part in todo and offset + 1 >= todo[part]:
                del todo[part]
    finally:
        consumer.close()
