"""The Kafka consumer seams of the consumer groups, and how poll results are filtered."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, TopicPartition

log = logging.getLogger(__name__)

# Commit failures that only mean "a rebalance happened": the messages are re-delivered, no loss.
REBALANCE_CODES = frozenset(
    {
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError._NO_OFFSET,
    }
)


class KafkaConsumerLike(Protocol):
    """The part of confluent_kafka.Consumer the runtime uses (a seam for tests)."""

    def subscribe(self, topics: list[str], **callbacks: Any) -> None: ...

    def consume(self, num_messages: int = ..., timeout: float = ...) -> list[Any]: ...

    def commit(self, **kwargs: Any) -> Any: ...

    def pause(self, partitions: list[TopicPartition]) -> None: ...

    def resume(self, partitions: list[TopicPartition]) -> None: ...

    def get_watermark_offsets(self, partition: TopicPartition, **kwargs: Any) -> Any: ...

    def committed(self, partitions: list[TopicPartition], **kwargs: Any) -> Any: ...


class SeekingConsumerLike(KafkaConsumerLike, Protocol):
    """The consumer seam of a group that seeks to offsets it stores itself (the SQL group)."""

    def poll(self, timeout: float = ...) -> Any: ...

    def seek(self, partition: Any) -> None: ...

    def assignment(self) -> list[Any]: ...

    def incremental_assign(self, partitions: list[Any]) -> None: ...

    def assign(self, partitions: list[Any]) -> None: ...


def usable_messages(messages: list[Any]) -> list[Any]:
    """Drop end-of-partition notices, log transient errors, raise on a fatal client error."""
    out = []
    for msg in messages:
        error = msg.error()
        if error is None:
            out.append(msg)
        elif error.code() == KafkaError._PARTITION_EOF:
            continue
        elif error.fatal():
            raise KafkaException(error)
        else:
            log.warning("consume error: %s", error)
    return out


def is_rebalance_error(exc: KafkaException) -> bool:
    """Return True when a commit failed only because the group is rebalancing."""
    error = exc.args[0] if exc.args else None
    return isinstance(error, KafkaError) and error.code() in REBALANCE_CODES
