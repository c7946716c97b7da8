"""Kafka client settings for the producer (no client is built here)."""

from __future__ import annotations

from typing import Any


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """Return idempotent producer settings: acks=all, no loss and no duplicates from retries."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        # 20 ms of batching costs nothing against a 60 s poll interval and packs big backfills.
        "linger.ms": 20,
        "compression.type": "zstd",
        # Matches the topic's max.message.bytes (8 MiB): very large contacts must still fit.
        "message.max.bytes": 8 * 1024 * 1024,
        # librdkafka retries for up to 5 minutes before it reports a delivery failed; the cycle
        # then fails, state does not advance and the next cycle re-publishes.
        "delivery.timeout.ms": 300000,
        "queue.buffering.max.messages": 200000,
    }
    config.update(overrides)
    return config


def admin_config(bootstrap: str) -> dict[str, Any]:
    """Return settings for the admin client that creates the events topic."""
    return {"bootstrap.servers": bootstrap}
