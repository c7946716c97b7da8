"""Read a topic's end offsets and a consumer group's committed offsets (for "caught up" checks)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

# 10 s per metadata or offset request: the broker is local or in the same network; longer means
# it is down, and the caller's own deadline decides what to do.
REQUEST_TIMEOUT_S = 10.0
# Leader elections after a topic is created or a broker restarts take a few seconds.
RETRY_WINDOW_S = 30.0
RETRY_PAUSE_S = 0.2


class OffsetReader:
    """One metadata consumer (it never joins a group) that answers offset questions."""

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Consumer

        self._bootstrap = bootstrap
        self._consumer: Any = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "dbsync2-offset-reader",
                "enable.auto.commit": False,
                "log_level": 0,
            }
        )

    def close(self) -> None:
        """Release the client."""
        self._consumer.close()

    def partitions(self, topic: str) -> list[int]:
        """Return the topic's partition numbers (empty if the topic does not exist)."""
        meta = self._consumer.list_topics(topic=topic, timeout=REQUEST_TIMEOUT_S).topics.get(topic)
        if meta is None or meta.error is not None:
            return []
        return sorted(meta.partitions)

    def watermarks(self, topic: str) -> dict[int, tuple[int, int]]:
        """Return partition -> (low, high) offsets, riding out leader elections."""
        from confluent_kafka import KafkaException, TopicPartition

        deadline = time.monotonic() + RETRY_WINDOW_S
        while True:
            try:
                marks: dict[int, tuple[int, int]] = {}
                for partition in self.partitions(topic):
                    low, high = self._consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), timeout=REQUEST_TIMEOUT_S
                    )
                    marks[partition] = (int(low), int(high))
                return marks
            except KafkaException:
                # A new topic's partitions have no leader for a moment ("not leader for
                # partition"); a real outage outlasts the window and is raised.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(RETRY_PAUSE_S)

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Return partition -> next offset to be written."""
        return {p: high for p, (_low, high) in self.watermarks(topic).items()}

    def message_count(self, topic: str) -> int:
        """Return how many messages the topic holds now (0 if it does not exist)."""
        return sum(high - low for low, high in self.watermarks(topic).values())

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """Return partition -> the group's committed offset (missing partitions: nothing yet)."""
        from confluent_kafka import Consumer, TopicPartition

        reader: Any = Consumer(
            {"bootstrap.servers": self._bootstrap, "group.id": group, "log_level": 0}
        )
        try:
            wanted = [TopicPartition(topic, p) for p in self.partitions(topic)]
            result = reader.committed(wanted, timeout=REQUEST_TIMEOUT_S) if wanted else []
        finally:
            reader.close()
        return {tp.partition: int(tp.offset) for tp in result if tp.offset >= 0}

    def offsets_for_time(self, topic: str, timestamp_ms: int) -> dict[int, int]:
        """Return partition -> first offset whose timestamp is >= `timestamp_ms` (else the end)."""
        from confluent_kafka import TopicPartition

        ends = self.end_offsets(topic)
        wanted = [TopicPartition(topic, p, timestamp_ms) for p in ends]
        found = (
            self._consumer.offsets_for_times(wanted, timeout=REQUEST_TIMEOUT_S) if wanted else []
        )
        return {tp.partition: int(tp.offset) if tp.offset >= 0 else ends[tp.partition]
                for tp in found}  # fmt: skip

    def commit_offsets(self, group: str, topic: str, offsets: Mapping[int, int]) -> None:
        """Commit `offsets` for `group` (which must have no active members) synchronously."""
        from confluent_kafka import Consumer, TopicPartition

        if not offsets:
            return
        committer: Any = Consumer(
            {"bootstrap.servers": self._bootstrap, "group.id": group, "log_level": 0,
             "enable.auto.commit": False}
        )  # fmt: skip
        try:
            committer.commit(
                offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                asynchronous=False,
            )
        finally:
            committer.close()


def count_behind(target: Mapping[int, int], committed: Mapping[int, int]) -> int:
    """Return how many messages below `target` the committed offsets have not passed yet."""
    return sum(max(0, end - committed.get(p, 0)) for p, end in target.items())
