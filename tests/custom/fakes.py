"""In-memory stand-ins for the Kafka consumer, the dead-letter producer and the clock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import TopicPartition

from consumers.runtime.group import TypedEnvelope
from consumers.runtime.outcomes import InvalidEvent


class FakeClock:
    """Time that only moves when the fake consumer waits."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now


@dataclass
class FakeMessage:
    """What confluent_kafka.Message offers the runtime."""

    _topic: str
    _partition: int
    _offset: int
    _key: bytes | None
    _value: bytes | None
    _ts: int = 1_700_000_000_000

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return (1, self._ts)

    def headers(self) -> list[tuple[str, bytes]]:
        return []

    def error(self) -> None:
        return None


class FakeConsumer:
    """A one-member consumer over in-memory partitions; waiting advances the fake clock."""

    def __init__(self, topic: str, partitions: int, clock: FakeClock) -> None:
        self.topic = topic
        self.log: dict[int, list[FakeMessage]] = {p: [] for p in range(partitions)}
        self.position: dict[int, int] = dict.fromkeys(range(partitions), 0)
        self.commits: list[dict[int, int]] = []
        self.paused: set[int] = set()
        self.pause_calls = 0
        self.clock = clock
        self.callbacks: dict[str, Callable[..., None]] = {}
        self.assigned = False
        self.on_wait: Callable[[], None] | None = None

    def append(self, partition: int, key: bytes, value: bytes | None) -> None:
        log = self.log[partition]
        log.append(FakeMessage(self.topic, partition, len(log), key, value))

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        assert topics == [self.topic]
        self.callbacks = callbacks

    def revoke(self, partitions: Sequence[int]) -> None:
        self.callbacks["on_revoke"](self, [TopicPartition(self.topic, p) for p in partitions])
        for p in partitions:
            self.log.pop(p)

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[FakeMessage]:
        if not self.assigned:
            self.assigned = True
            self.callbacks["on_assign"](self, [TopicPartition(self.topic, p) for p in self.log])
        out: list[FakeMessage] = []
        for p, log in self.log.items():
            while p not in self.paused and self.position[p] < len(log) and len(out) < num_messages:
                out.append(log[self.position[p]])
                self.position[p] += 1
        if not out:
            self.clock.now += timeout
            if self.on_wait is not None:
                self.on_wait()
        return out

    def commit(self, **kwargs: Any) -> None:
        assert kwargs["asynchronous"] is False
        self.commits.append({tp.partition: tp.offset for tp in kwargs["offsets"]})

    def committed_offset(self, partition: int) -> int | None:
        for commit in reversed(self.commits):
            if partition in commit:
                return commit[partition]
        return None

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.pause_calls += 1
        self.paused |= {tp.partition for tp in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused -= {tp.partition for tp in partitions}

    def get_watermark_offsets(self, partition: TopicPartition, **_: Any) -> tuple[int, int]:
        return 0, len(self.log.get(partition.partition, []))

    def committed(self, partitions: list[TopicPartition], **_: Any) -> list[TopicPartition]:
        return [
            TopicPartition(tp.topic, tp.partition, self.committed_offset(tp.partition) or -1001)
            for tp in partitions
        ]


class FakeProducer:
    """Collects dead letters; `fail_flushes` makes that many flushes report undelivered messages."""

    def __init__(self) -> None:
        self.queued: list[dict[str, Any]] = []
        self.delivered: list[dict[str, Any]] = []
        self.fail_flushes = 0

    def produce(self, topic: str, value: Any = None, key: Any = None, **kwargs: Any) -> None:
        self.queued.append({"topic": topic, "value": value, "key": key, **kwargs})

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        if self.fail_flushes:
            self.fail_flushes -= 1
            return len(self.queued)
        self.delivered.extend(self.queued)
        self.queued.clear()
        return 0


@dataclass
class RecordingGroup:
    """Records every handled event; `script` raises on chosen calls, `reject` poisons events."""

    script: list[BaseException | None] = field(default_factory=list)
    reject: Callable[[TypedEnvelope], bool] = lambda _item: False
    handled: list[TypedEnvelope] = field(default_factory=list)
    calls: int = 0
    flushes: int = 0
    closed: bool = False

    def handle(self, batch: Sequence[TypedEnvelope]) -> None:
        self.calls += 1
        if self.script:
            error = self.script.pop(0)
            if error is not None:
                raise error
        bad = [i for i in batch if self.reject(i)]
        if bad:
            raise InvalidEvent(f"rejected offset {bad[0].offset}")
        self.handled.extend(batch)

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        self.closed = True
