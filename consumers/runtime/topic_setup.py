"""Create a catalogue topic (for example a group's dead-letter topic) if it does not exist yet."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from schemas.topics import TopicSpec

# Three copies where the cluster has three brokers; a single dev broker gets one.
PREFERRED_REPLICATION = 3


def ensure_topic(admin: AdminClient, name: str, spec: TopicSpec, timeout: float = 30.0) -> bool:
    """Create topic `name` with `spec`'s partitions and config unless it exists; True if created."""
    metadata: Any = admin.list_topics(timeout=timeout)
    if name in metadata.topics:
        return False
    replication = max(1, min(PREFERRED_REPLICATION, len(metadata.brokers)))
    topic = NewTopic(
        name, num_partitions=spec.partitions, replication_factor=replication, config=spec.config()
    )
    try:
        admin.create_topics([topic], operation_timeout=timeout)[name].result(timeout=timeout)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False  # created concurrently by another instance of the group
        raise
    return True
