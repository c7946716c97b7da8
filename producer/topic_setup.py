"""Create the campaign's events topic from the catalogue when it does not exist yet."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from schemas.topics import EVENTS

log = logging.getLogger(__name__)

# Creating a topic on a healthy broker takes well under a second; 30 s only trips on real trouble.
CREATE_TIMEOUT_S = 30.0


class AdminLike(Protocol):
    """The part of confluent_kafka.admin.AdminClient used here."""

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        """Return cluster metadata."""
        ...

    def create_topics(self, new_topics: list[Any], **kwargs: Any) -> dict[str, Any]:
        """Start creating topics; return futures by name."""
        ...


def ensure_events_topic(
    admin: AdminLike,
    new_topic: Any,
    topic: str,
    partitions: int | None = None,
    retention_ms: int | None = None,
) -> bool:
    """Create `topic` per `schemas.topics.EVENTS` (with overrides) if missing; True if created.

    `new_topic` is the NewTopic class (injected so this module needs no Kafka import).
    """
    metadata = admin.list_topics(timeout=CREATE_TIMEOUT_S)
    if topic in metadata.topics and metadata.topics[topic].error is None:
        return False
    config = EVENTS.config()
    if retention_ms is not None:
        config["retention.ms"] = str(retention_ms)
    count = partitions or EVENTS.partitions
    spec = new_topic(topic, num_partitions=count, config=config)
    futures = admin.create_topics([spec], operation_timeout=CREATE_TIMEOUT_S)
    try:
        futures[topic].result(timeout=CREATE_TIMEOUT_S)
    except Exception as exc:  # KafkaException: TOPIC_ALREADY_EXISTS means a racing creator won
        if "TOPIC_ALREADY_EXISTS" in str(exc) or "already exists" in str(exc):
            return False
        raise
    log.info("created topic %s (%d partitions, config %s)", topic, count, config)
    return True
