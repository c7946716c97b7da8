"""Inspect Kafka for operator tools: partitions, end offsets, group offsets and members.

Every function takes the clients it uses (an AdminClient, a probe Consumer that never joins a
group), so tests and tools share one seam and nothing connects at import time.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

# Admin requests to a healthy broker answer in milliseconds; 30 s only trips on a real outage.
ADMIN_TIMEOUT_SECONDS = 30.0
NO_OFFSET = -1001


class KafkaToolError(Exception):
    """A Kafka request an operator tool depends on failed (the message says which)."""


@dataclass(frozen=True)
class GroupMember:
    """One active member of a consumer group."""

    member_id: str
    client_id: str
    host: str
    partitions: tuple[int, ...]


@dataclass(frozen=True)
class GroupInfo:
    """A consumer group's state and active members."""

    group_id: str
    state: str
    members: tuple[GroupMember, ...]


def make_admin(bootstrap: str) -> AdminClient:
    """Return an AdminClient for `bootstrap`."""
    return AdminClient({"bootstrap.servers": bootstrap})


def make_probe(bootstrap: str) -> Consumer:
    """Return a Consumer used only for watermarks and offsets_for_times (it never subscribes)."""
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"dbsync2-ops-probe-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )


def topic_partitions(admin: AdminClient, topic: str) -> list[int]:
    """Return the partition numbers of `topic`; raise KafkaToolError when it does not exist."""
    meta: Any = admin.list_topics(topic=topic, timeout=ADMIN_TIMEOUT_SECONDS)
    found = meta.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        raise KafkaToolError(f"topic {topic} does not exist")
    return sorted(found.partitions)


def watermarks(probe: Any, topic: str, partitions: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Return (low, high) offsets per partition."""
    out: dict[int, tuple[int, int]] = {}
    for p in partitions:
        low, high = probe.get_watermark_offsets(
            TopicPartition(topic, p), timeout=ADMIN_TIMEOUT_SECONDS, cached=False
        )
        out[p] = (int(low), int(high))
    return out


def offsets_at(probe: Any, topic: str, partitions: Sequence[int], when_ms: int) -> dict[int, int]:
    """Return per partition the first offset with a timestamp >= `when_ms` (-1 when none)."""
    found = probe.offsets_for_times(
        [TopicPartition(topic, p, when_ms) for p in partitions], timeout=ADMIN_TIMEOUT_SECONDS
    )
    return {tp.partition: int(tp.offset) for tp in found}


def describe_group(admin: AdminClient, group_id: str) -> GroupInfo:
    """Return the group's state and its active members (none for an unknown group)."""
    try:
        desc: Any = admin.describe_consumer_groups([group_id])[group_id].result(
            timeout=ADMIN_TIMEOUT_SECONDS
        )
    except Exception as exc:
        raise KafkaToolError(f"cannot describe consumer group {group_id}: {exc}") from exc
    members = tuple(
        GroupMember(
            member_id=str(m.member_id),
            client_id=str(m.client_id),
            host=str(m.host),
            partitions=tuple(
                sorted(
                    tp.partition for tp in (m.assignment.topic_partitions if m.assignment else [])
                )
            ),
        )
        for m in desc.members
    )
    state = getattr(desc.state, "name", str(desc.state))
    return GroupInfo(group_id, str(state), members)


def committed_offsets(
    admin: AdminClient, group_id: str, topic: str, partitions: Sequence[int]
) -> dict[int, int]:
    """Return the group's committed offset per partition (NO_OFFSET where it has none)."""
    request = ConsumerGroupTopicPartitions(group_id, [TopicPartition(topic, p) for p in partitions])
    try:
        result: Any = admin.list_consumer_group_offsets([request])[group_id].result(
            timeout=ADMIN_TIMEOUT_SECONDS
        )
    except Exception as exc:
        raise KafkaToolError(f"cannot read offsets of group {group_id}: {exc}") from exc
    return {tp.partition: int(tp.offset) for tp in result.topic_partitions}


def alter_offsets(admin: AdminClient, group_id: str, topic: str, offsets: dict[int, int]) -> None:
    """Set the group's committed offsets (Kafka refuses while the group has members)."""
    request = ConsumerGroupTopicPartitions(
        group_id, [TopicPartition(topic, p, o) for p, o in sorted(offsets.items())]
    )
    try:
        result: Any = admin.alter_consumer_group_offsets([request])[group_id].result(
            timeout=ADMIN_TIMEOUT_SECONDS
        )
    except Exception as exc:
        raise KafkaToolError(f"Kafka refused to reset group {group_id}: {exc}") from exc
    for tp in result.topic_partitions:
        if tp.error is not None:
            raise KafkaToolError(f"Kafka refused partition {tp.partition}: {tp.error}")


def list_group_ids(admin: AdminClient) -> list[str]:
    """Return the ids of every consumer group the cluster knows."""
    try:
        result: Any = admin.list_consumer_groups().result(timeout=ADMIN_TIMEOUT_SECONDS)
    except Exception as exc:
        raise KafkaToolError(f"cannot list consumer groups: {exc}") from exc
    return sorted(str(g.group_id) for g in result.valid)
