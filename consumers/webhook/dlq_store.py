"""Read a group's dead-letter topic, filter dead letters, and remember which were redriven.

Works for any group's dead-letter topic: every group writes the same headers (schemas.headers).
Redriven offsets are kept as the committed offsets of the consumer group
`dbsync2-dlq-redrive-<group>` on the dead-letter topic: the committed offset is the low-water
mark (everything below it was redriven) and the commit metadata lists redriven offsets above it
as compact ranges, so a filtered redrive does not hide the letters it skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from schemas import headers as h

# Kafka's default offset.metadata.max.bytes is 4096; stay below it.
MAX_METADATA_CHARS = 4000


def redrive_group_id(group: str) -> str:
    """Return the consumer group that records redriven offsets of `group`'s dead letters."""
    return f"dbsync2-dlq-redrive-{group}"


@dataclass(frozen=True)
class DeadLetterRecord:
    """One dead letter: where it is, its original key and bytes, and its headers."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str, default: str = "") -> str:
        """Return the last value of a header as text."""
        for key, value in reversed(self.headers):
            if key == name:
                return value.decode("utf-8", errors="replace")
        return default

    @property
    def contact(self) -> str:
        return "" if self.key is None else self.key.decode("utf-8", errors="replace")

    @property
    def dead_lettered_at(self) -> datetime:
        text = self.header(h.DLQ_DEAD_LETTERED_AT)
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    def summary(self) -> dict[str, Any]:
        """Return the fields `dlq list` shows."""
        return {
            "partition": self.partition,
            "offset": self.offset,
            "dead_lettered_at": self.dead_lettered_at.isoformat(),
            "contact": self.contact,
            "event_id": self.header(h.EVENT_ID),
            "status": self.header(h.DLQ_LAST_STATUS),
            "attempts": self.header(h.DLQ_ATTEMPTS),
            "error_class": self.header(h.DLQ_ERROR_CLASS),
            "original": f"{self.header(h.DLQ_ORIGINAL_TOPIC)}/"
            f"{self.header(h.DLQ_ORIGINAL_PARTITION)}@{self.header(h.DLQ_ORIGINAL_OFFSET)}",
        }


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters a command applies to; empty fields match everything."""

    contact: str | None = None
    since: datetime | None = None
    status: str | None = None
    offset: int | None = None

    def matches(self, record: DeadLetterRecord) -> bool:
        """True if the record passes every given filter."""
        if self.contact is not None and record.contact != self.contact:
            return False
        if self.status is not None and record.header(h.DLQ_LAST_STATUS) != self.status:
            return False
        if self.offset is not None and record.offset != self.offset:
            return False
        return self.since is None or record.dead_lettered_at >= self.since


def parse_since(text: str) -> datetime:
    """Parse `--since`: ISO-8601 (naive means UTC) or Unix seconds."""
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    when = datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def read_dead_letters(
    consumer: Consumer, topic: str, timeout: float = 30.0
) -> list[DeadLetterRecord]:
    """Return every dead letter of `topic` up to its current end, in partition/offset order."""
    metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None:
        return []
    ends: dict[int, int] = {}
    starts: list[TopicPartition] = []
    for partition in sorted(metadata.partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout)
        if high > low:
            ends[partition] = high
            starts.append(TopicPartition(topic, partition, low))
    records: list[DeadLetterRecord] = []
    if not starts:
        return records
    consumer.assign(starts)
    remaining = dict(ends)
    deadline = time.monotonic() + timeout
    while remaining:
        # consume() waits for the whole batch or the timeout, so ask in short slices.
        batch = consumer.consume(500, timeout=0.2)
        if not batch and time.monotonic() > deadline:
            raise KafkaException(f"timed out reading {topic}")
        for message in batch:
            if message.error() is not None:
                continue
            partition, offset = message.partition(), message.offset()
            if partition is None or offset is None:
                continue
            if partition in remaining and offset >= remaining[partition] - 1:
                del remaining[partition]
            records.append(
                DeadLetterRecord(
                    partition,
                    offset,
                    message.timestamp()[1],
                    message.key(),
                    message.value(),
                    tuple(_header_pairs(message.headers())),
                )
            )
    consumer.unassign()
    records = [r for r in records if r.offset < ends[r.partition]]
    return sorted(records, key=lambda r: (r.partition, r.offset))


def _header_pairs(raw: Any) -> list[tuple[str, bytes]]:
    pairs: list[tuple[str, bytes]] = []
    for key, value in raw or []:
        data = value.encode() if isinstance(value, str) else (value or b"")
        pairs.append((str(key), data))
    return pairs


@dataclass
class RedriveMarks:
    """Redriven offsets of one partition: all below `low`, plus those in `done`."""

    low: int = 0
    done: set[int] = field(default_factory=set)

    def contains(self, offset: int) -> bool:
        return offset < self.low or offset in self.done

    def add(self, offsets: Iterable[int]) -> None:
        self.done.update(offsets)
        while self.low in self.done:
            self.done.discard(self.low)
            self.low += 1
        self.done = {o for o in self.done if o >= self.low}

    def metadata(self) -> str:
        """Return `done` as compact JSON ranges, e.g. [[5,9],[12,12]]."""
        ranges: list[list[int]] = []
        for offset in sorted(self.done):
            if ranges and ranges[-1][1] == offset - 1:
                ranges[-1][1] = offset
            else:
                ranges.append([offset, offset])
        text = json.dumps(ranges, separators=(",", ":"))
        if len(text) > MAX_METADATA_CHARS:
            raise ValueError(
                "too many scattered redriven offsets to record; redrive without filters once"
            )
        return text

    @classmethod
    def from_commit(cls, offset: int, metadata: str | None) -> RedriveMarks:
        marks = cls(low=max(offset, 0))
        try:
            ranges = json.loads(metadata) if metadata else []
        except ValueError:
            ranges = []
        marks.add(o for start, end in ranges for o in range(start, end + 1))
        return marks


def load_marks(
    consumer: Consumer, topic: str, partitions: Iterable[int]
) -> dict[int, RedriveMarks]:
    """Return the redrive marks of each partition (the consumer's group is the redrive group)."""
    wanted = [TopicPartition(topic, p) for p in partitions]
    if not wanted:
        return {}
    committed = consumer.committed(wanted, timeout=30)
    return {tp.partition: RedriveMarks.from_commit(tp.offset, tp.metadata) for tp in committed}


def save_marks(consumer: Consumer, topic: str, marks: dict[int, RedriveMarks]) -> None:
    """Commit the redrive marks (synchronously)."""
    offsets = [TopicPartition(topic, p, m.low, metadata=m.metadata()) for p, m in marks.items()]
    if offsets:
        consumer.commit(offsets=offsets, asynchronous=False)
