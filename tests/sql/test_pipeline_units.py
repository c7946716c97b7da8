"""The writer thread and lag measurement without stalls: the parts that need no database."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from consumers.runtime.clock import SystemClock
from consumers.runtime.envelope import Envelope
from consumers.runtime.lag_tracker import LagTracker
from consumers.sql.processor import BatchResult
from consumers.sql.progress import PartitionProgress
from consumers.sql.write_pipeline import WritePipeline


def envelopes(partition: int, offsets: range) -> list[Envelope]:
    return [Envelope("t", partition, o, b"k", b"v", 0) for o in offsets]


def test_one_batch_in_flight_written_off_the_calling_thread() -> None:
    release = threading.Event()
    seen: list[tuple[str, list[int]]] = []

    def write(batch: list[Envelope], _prepared: object = None) -> BatchResult:
        release.wait(10)
        seen.append((threading.current_thread().name, [e.offset for e in batch]))
        return BatchResult(len(batch), len(batch), 0)

    pipeline = WritePipeline(write)
    try:
        pipeline.submit(envelopes(0, range(0, 3)), 0.0)
        with pytest.raises(RuntimeError, match="already in flight"):
            pipeline.submit(envelopes(0, range(3, 6)), 0.0)
        assert not seen  # the write is still blocked: submit did not wait for it
        release.set()
        taken = pipeline.take()
        assert taken is not None and taken.future.result().events == 3
        assert seen == [(seen[0][0], [0, 1, 2])] and seen[0][0].startswith("sql-writer")
        assert pipeline.take() is None
    finally:
        pipeline.close()


def test_a_failed_write_comes_back_with_its_batch() -> None:
    def write(_batch: list[Envelope], _prepared: object = None) -> BatchResult:
        raise ConnectionError("database gone")

    pipeline = WritePipeline(write)
    try:
        batch = envelopes(2, range(10, 12))
        pipeline.submit(batch, 1.5)
        taken = pipeline.take()
        assert taken is not None and taken.envelopes == batch and taken.started == 1.5
        assert isinstance(taken.future.exception(), ConnectionError)
    finally:
        pipeline.close()


class WatermarkConsumer:
    """Counts broker watermark queries; the cache says `cached_high`."""

    def __init__(self, cached_high: int, broker_high: int) -> None:
        self.cached_high = cached_high
        self.broker_high = broker_high
        self.broker_queries = 0

    def get_watermark_offsets(self, _tp: TopicPartition, **kwargs: Any) -> tuple[int, int]:
        if kwargs.get("cached"):
            return (-1001 if self.cached_high < 0 else 0, self.cached_high)
        self.broker_queries += 1
        return (0, self.broker_high)


class LagSink:
    def __init__(self) -> None:
        self.lag: dict[tuple[str, int], int] = {}

    def set_lag(
        self, group: str, topic: str, partition: int, messages: int, seconds: float
    ) -> None:
        self.lag[(topic, partition)] = messages

    def forget_partition(self, group: str, topic: str, partition: int) -> None:
        self.lag.pop((topic, partition), None)


def test_lag_of_fetched_partitions_comes_from_the_cache_and_paused_ones_from_the_broker() -> None:
    sink = LagSink()
    tracker = LagTracker("g", sink, SystemClock())
    tracker.committed[("t", 0)] = 40
    consumer = WatermarkConsumer(cached_high=100, broker_high=130)
    for _ in range(3):  # the end offset does not move (a pre-filled backlog): still no query
        tracker.refresh(consumer, {("t", 0)}, paused=())
    assert consumer.broker_queries == 0 and sink.lag[("t", 0)] == 60
    tracker.refresh(consumer, {("t", 0)}, paused={("t", 0)})
    assert consumer.broker_queries == 1 and sink.lag[("t", 0)] == 90  # rises while paused
    tracker.refresh(WatermarkConsumer(cached_high=-1001, broker_high=50), {("t", 0)}, paused=())
    assert sink.lag[("t", 0)] == 10  # no cached value yet: the broker answers


def test_caught_up_from_cached_end_offsets_without_asking_the_broker() -> None:
    progress = PartitionProgress("t", lambda topic, p, o: TopicPartition(topic, p, o))
    consumer = WatermarkConsumer(cached_high=7, broker_high=7)
    progress.advance({0: 5})
    progress.measure(consumer, {0}, paused=False)
    assert progress.lag() == {0: 2} and not progress.caught_up.is_set()
    progress.advance({0: 7})
    progress._checked = 0.0  # the measurement is rate-limited; the test does not wait a second
    progress.measure(consumer, {0}, paused=False)
    assert progress.lag() == {0: 0} and progress.caught_up.is_set()
    assert consumer.broker_queries == 0
