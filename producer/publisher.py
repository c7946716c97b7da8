"""Publish events to the campaign's Kafka topic and confirm that every one was acknowledged.

`publish` only queues (key = `event.key`, headers = event id and type); `confirm` flushes and
raises `PublishError` unless every delivery report since the last confirm succeeded. The caller
advances its state only after `confirm` returned. With `enable.idempotence` and `acks=all`, order
per partition (and so per contact) is kept across librdkafka's internal retries.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.codec import EventCodec
from schemas.events import Event, event_type_name, message_key
from schemas.headers import EVENT_ID, EVENT_TYPE

# How long `confirm` waits for outstanding deliveries; librdkafka's own delivery.timeout.ms (5 min)
# fails each message first, so this only trips when the client itself is stuck.
CONFIRM_TIMEOUT_S = 330.0


class PublishError(Exception):
    """Kafka did not acknowledge every event of a batch; nothing of it may be marked as done."""


class KafkaProducerLike(Protocol):
    """The part of confluent_kafka.Producer the publisher uses."""

    def produce(
        self,
        topic: str,
        value: Any = ...,
        key: Any = ...,
        partition: int = ...,
        callback: Any = ...,
        on_delivery: Any = ...,
        timestamp: int = ...,
        headers: Any = ...,
    ) -> None:
        """Queue one message."""
        ...

    def poll(self, timeout: float) -> int:
        """Serve delivery callbacks."""
        ...

    def flush(self, timeout: float) -> int:
        """Wait for outstanding messages; return how many are still queued."""
        ...


class EventPublisher(Protocol):
    """Where the producer sends events."""

    def publish(self, event: Event) -> None:
        """Queue one event."""
        ...

    def confirm(self) -> None:
        """Block until every queued event is acknowledged; raise PublishError otherwise."""
        ...


@dataclass
class PublisherStats:
    """Counts and time spent, for reports and the benchmark."""

    published: Counter[str] = field(default_factory=Counter)
    encode_seconds: float = 0.0
    produce_seconds: float = 0.0
    confirm_seconds: float = 0.0


class KafkaEventPublisher:
    """EventPublisher over a confluent-kafka producer (idempotent, acks=all)."""

    def __init__(
        self,
        producer: KafkaProducerLike,
        topic: str,
        codec: EventCodec,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Publish to `topic`, encoding with `codec`."""
        self._producer = producer
        self.topic = topic
        self._codec = codec
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._pending = 0
        self._failures: list[str] = []
        self._pending_types: Counter[str] = Counter()
        self.stats = PublisherStats()

    def publish(self, event: Event) -> None:
        """Encode and queue one event; waits for queue room instead of failing when it is full."""
        started = self._monotonic()
        value = self._codec.encode(event)
        encoded = self._monotonic()
        kind = event_type_name(event)
        headers = [(EVENT_ID, event.event_id.encode()), (EVENT_TYPE, kind.encode())]
        while True:
            try:
                self._producer.produce(
                    self.topic,
                    value=value,
                    key=message_key(event),
                    headers=headers,
                    on_delivery=self._on_delivery,
                )
                break
            except BufferError:
                self._producer.poll(0.1)  # local queue full: serve callbacks, then retry
        with self._lock:
            self._pending += 1
            self._pending_types[kind] += 1
        self._producer.poll(0)
        self.stats.encode_seconds += encoded - started
        self.stats.produce_seconds += self._monotonic() - encoded

    def confirm(self) -> None:
        """Flush and check that every delivery since the last confirm succeeded."""
        started = self._monotonic()
        remaining = self._producer.flush(CONFIRM_TIMEOUT_S)
        self.stats.confirm_seconds += self._monotonic() - started
        with self._lock:
            failures, self._failures = self._failures, []
            pending, types = self._pending, self._pending_types
            self._pending, self._pending_types = 0, Counter()
        if remaining or failures:
            detail = "; ".join(failures[:3]) or f"{remaining} message(s) still queued"
            raise PublishError(
                f"{len(failures) + remaining} of {pending} event(s) failed: {detail}"
            )
        self.stats.published.update(types)

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            with self._lock:
                self._failures.append(str(err))
