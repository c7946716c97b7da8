"""Kafka client settings for consumer groups and dead-letter producers (no clients built here)."""

from __future__ import annotations

from typing import Any


def consumer_config(bootstrap: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    """Return confluent-kafka consumer settings: manual commits, start at the earliest offset."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        # Offsets are committed by the runtime only after the side effect is durable.
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # A new group starts from the beginning: the topic is the source of truth.
        "auto.offset.reset": "earliest",
        # Cooperative rebalancing keeps unaffected partitions flowing when an instance joins.
        "partition.assignment.strategy": "cooperative-sticky",
        # 45 s: long enough to ride out a slow batch commit, short enough to rebalance quickly.
        "session.timeout.ms": 45000,
        "max.poll.interval.ms": 600000,
        # Memory under a backlog. Fetch limits count *compressed* bytes: one 64 MiB zstd fetch
        # held ~340k of our events, ~470 MiB once decompressed, so a consumer's RSS grew with the
        # backlog (50k events: 165 MiB peak, 300k: 501 MiB). 1 MiB per partition (8 MiB per
        # fetch) is still thousands of events per partition per fetch; a single record batch
        # larger than that is still returned whole (KIP-74), so big messages are not stuck.
        "fetch.max.bytes": 8 * 1024 * 1024,
        "max.partition.fetch.bytes": 1024 * 1024,
        # Prefetched messages queued for the application (one queue for the whole consumer).
        "queued.max.messages.kbytes": 16 * 1024,
    }
    config.update(overrides)
    return config


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """Return idempotent producer settings (acks=all): no loss, no duplicates from retries."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "compression.type": "zstd",
        "message.max.bytes": 8 * 1024 * 1024,
        # Retry for up to 5 minutes inside librdkafka before a delivery is reported failed.
        "delivery.timeout.ms": 300000,
    }
    config.update(overrides)
    return config
