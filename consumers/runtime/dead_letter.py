"""Dead-letter events a group gave up on, and stop a group that gives up too often.

A dead letter keeps the original key and value bytes unchanged; headers carry where it came from
(topic, partition, offset), why it failed and how often it was tried. `flush` must succeed before
the group commits offsets past the dead-lettered message, so a dead letter is never lost.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from consumers.runtime.envelope import Envelope
from consumers.runtime.outcomes import DeadLetterLimitExceeded, RetryableError
from schemas import headers as h

MAX_MESSAGE_HEADER_CHARS = 1000


class KafkaProducerLike(Protocol):
    """The part of confluent_kafka.Producer the publisher uses (a seam for tests)."""

    def produce(self, topic: str, value: Any = ..., key: Any = ..., **kwargs: Any) -> None: ...

    def flush(self, timeout: float = ...) -> int: ...

    def poll(self, timeout: float = ...) -> int: ...


def iso_now() -> str:
    """Return the current UTC time as ISO-8601 text."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class DeadLetter:
    """Why one envelope is being dead-lettered."""

    envelope: Envelope
    error_class: str
    error_message: str
    attempts: int
    first_attempt_at: str
    last_attempt_at: str
    extra: Mapping[str, str] | None = None


class DeadLetterPublisher:
    """Writes dead letters to one topic and confirms their delivery on `flush`."""

    def __init__(self, producer: KafkaProducerLike, topic: str, group: str) -> None:
        self._producer = producer
        self._topic = topic
        self._group = group
        self._failures: list[str] = []
        self.published = 0

    @property
    def topic(self) -> str:
        """The dead-letter topic."""
        return self._topic

    def publish(self, letter: DeadLetter) -> None:
        """Queue one dead letter; call `flush` before committing past it."""
        env = letter.envelope
        headers: list[tuple[str, bytes]] = list(env.headers)
        fields = {
            h.DLQ_GROUP: self._group,
            h.DLQ_ORIGINAL_TOPIC: env.topic,
            h.DLQ_ORIGINAL_PARTITION: str(env.partition),
            h.DLQ_ORIGINAL_OFFSET: str(env.offset),
            h.DLQ_ORIGINAL_TIMESTAMP: str(env.timestamp_ms),
            h.DLQ_ERROR_CLASS: letter.error_class,
            h.DLQ_ERROR_MESSAGE: letter.error_message[:MAX_MESSAGE_HEADER_CHARS],
            h.DLQ_ATTEMPTS: str(letter.attempts),
            h.DLQ_FIRST_ATTEMPT_AT: letter.first_attempt_at,
            h.DLQ_LAST_ATTEMPT_AT: letter.last_attempt_at,
            h.DLQ_DEAD_LETTERED_AT: iso_now(),
        } | dict(letter.extra or {})
        headers.extend((k, v.encode("utf-8")) for k, v in fields.items())
        self._producer.produce(
            self._topic,
            value=env.value,
            key=env.key,
            headers=headers,
            on_delivery=self._on_delivery,
        )
        self._producer.poll(0)
        self.published += 1

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._failures.append(str(err))

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every queued dead letter is acknowledged; raise RetryableError if not."""
        remaining = self._producer.flush(timeout)
        if remaining or self._failures:
            failures, self._failures = self._failures, []
            raise RetryableError(
                f"dead-letter topic {self._topic} did not confirm {remaining} message(s): "
                + "; ".join(failures[:3])
            )


class DeadLetterLimit:
    """Stops a group that dead-letters more than `max_consecutive` events in a row, or more than
    `max_ratio` of the last `window` events: after a bad deploy every event fails, and draining
    the whole topic into the dead-letter topic would be worse than stopping."""

    def __init__(
        self, max_consecutive: int = 100, max_ratio: float = 0.5, window: int = 1000
    ) -> None:
        self._max_consecutive = max_consecutive
        self._max_ratio = max_ratio
        self._outcomes: deque[bool] = deque(maxlen=window)
        self._consecutive = 0
        self._started = time.monotonic()

    def record_success(self, count: int = 1) -> None:
        """Count successfully handled events."""
        self._consecutive = 0
        self._outcomes.extend([False] * min(count, self._outcomes.maxlen or count))

    def record_dead_letter(self) -> None:
        """Count one dead letter; raise DeadLetterLimitExceeded when a limit is crossed."""
        self._consecutive += 1
        self._outcomes.append(True)
        if self._consecutive > self._max_consecutive:
            raise DeadLetterLimitExceeded(
                f"{self._consecutive} consecutive dead letters (limit {self._max_consecutive}); "
                "stopping the group: fix the cause, then redrive with `dbsync2 dlq`"
            )
        full = len(self._outcomes) == self._outcomes.maxlen
        ratio = sum(self._outcomes) / max(len(self._outcomes), 1)
        if full and ratio > self._max_ratio:
            raise DeadLetterLimitExceeded(
                f"{ratio:.0%} of the last {len(self._outcomes)} events were dead-lettered "
                f"(limit {self._max_ratio:.0%}); stopping the group"
            )
