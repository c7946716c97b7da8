"""Own the relay's Kafka partitions: pause/resume, commits after dead letters, end-of-topic checks.

Commits are synchronous and never pass an offset whose event is not fully handled (the ledger
decides); queued dead letters are flushed first, so a committed dead letter is never lost.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from confluent_kafka import KafkaException, TopicPartition

from consumers.runtime.dead_letter import DeadLetterPublisher
from consumers.runtime.outcomes import RetryableError
from consumers.webhook.ledger import OffsetLedger

log = logging.getLogger(__name__)


class KafkaConsumerLike(Protocol):
    """The part of confluent_kafka.Consumer the relay uses (a seam)."""

    def subscribe(self, topics: list[str], **callbacks: Any) -> None: ...
    def poll(self, timeout: float = ...) -> Any: ...
    def consume(self, num_messages: int = ..., timeout: float = ...) -> list[Any]: ...
    def commit(self, **kwargs: Any) -> Any: ...
    def assignment(self) -> list[TopicPartition]: ...
    def pause(self, partitions: list[TopicPartition]) -> None: ...
    def resume(self, partitions: list[TopicPartition]) -> None: ...
    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]: ...
    def committed(self, partitions: list[TopicPartition], timeout: float = ...) -> Any: ...
    def get_watermark_offsets(self, partition: TopicPartition, **kwargs: Any) -> Any: ...
    def close(self) -> None: ...


class PartitionGate:
    """Pauses, resumes and commits the relay's partitions of one topic (loop thread only)."""

    def __init__(
        self, consumer: KafkaConsumerLike, topic: str, dead_letters: DeadLetterPublisher
    ) -> None:
        self.consumer = consumer
        self.ledger = OffsetLedger()
        self._topic = topic
        self._dead_letters = dead_letters
        self._dlq_unflushed = False
        self._paused: set[int] = set()

    def note_dead_letter(self) -> None:
        """A dead letter was queued: flush before the next commit."""
        self._dlq_unflushed = True

    def assigned(self) -> list[TopicPartition]:
        """Return the currently assigned partitions of the topic."""
        return [tp for tp in self.consumer.assignment() if tp.topic == self._topic]

    def set_paused(self, want: bool) -> None:
        """Pause every assigned partition (also newly assigned ones), or resume them all."""
        if not want and not self._paused:
            return
        assignment = self.assigned()
        if want:
            todo = [tp for tp in assignment if tp.partition not in self._paused]
            if todo:
                self.consumer.pause(todo)
                self._paused.update(tp.partition for tp in todo)
        else:
            self.consumer.resume([tp for tp in assignment if tp.partition in self._paused])
            self._paused.clear()

    @property
    def paused(self) -> bool:
        """True while consumption is paused."""
        return bool(self._paused)

    def commit(self, partitions: set[int] | None = None) -> None:
        """Flush dead letters, then commit every partition's low-water mark that moved."""
        offsets = self.ledger.committable(partitions)
        if not offsets:
            return
        if self._dlq_unflushed:
            try:
                self._dead_letters.flush()
            except RetryableError as exc:
                log.warning("not committing yet: %s", exc)
                return
            self._dlq_unflushed = False
        tps = [TopicPartition(self._topic, p, o) for p, o in offsets.items()]
        try:
            self.consumer.commit(offsets=tps, asynchronous=False)
        except KafkaException as exc:
            log.warning("offset commit failed (will retry): %s", exc)
            return
        self.ledger.mark_committed(offsets)

    def forget(self, partitions: set[int]) -> None:
        """Drop the state of partitions that were (re)assigned or revoked."""
        for partition in partitions:
            self.ledger.forget(partition)
            self._paused.discard(partition)

    def at_end(self) -> bool:
        """True if partitions are assigned and each is consumed up to its high watermark."""
        assignment = self.assigned()
        return bool(assignment) and all(self._partition_at_end(tp) for tp in assignment)

    def _partition_at_end(self, tp: TopicPartition) -> bool:
        try:
            low, high = self.consumer.get_watermark_offsets(tp, timeout=5, cached=False)
            offset = self.consumer.position([tp])[0].offset
            if offset < 0:  # nothing consumed yet: where the group would start
                offset = self.consumer.committed([tp], timeout=5)[0].offset
            return bool((offset if offset >= 0 else low) >= high)
        except KafkaException:
            return False
