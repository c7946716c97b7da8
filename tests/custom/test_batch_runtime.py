"""The batch runtime's promises, on an in-memory consumer and a fake clock (no broker needed)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry

from consumers.custom.sample_events import sample_events
from consumers.runtime.batch_runtime import BatchRuntime
from consumers.runtime.dead_letter import DeadLetterLimit, DeadLetterPublisher
from consumers.runtime.group import GroupSpec, RetryPolicy, TypedEnvelope
from consumers.runtime.outcomes import Backpressure, DeadLetterLimitExceeded, RetryableError
from consumers.runtime.retry_loop import RetriesExhausted
from ops.observability import PipelineMetrics, Readiness
from schemas import encode_event, message_key
from schemas import headers as h
from schemas.topics import events_topic
from tests.custom.fakes import (
    FakeClock,
    FakeConsumer,
    FakeMessage,
    FakeProducer,
    RecordingGroup,
)

CAMPAIGN = "unit"
TOPIC = events_topic(CAMPAIGN)


def make_consumer(clock: FakeClock, count: int = 20, partitions: int = 2) -> FakeConsumer:
    consumer = FakeConsumer(TOPIC, partitions, clock)
    for i, event in enumerate(sample_events(CAMPAIGN)[:count]):
        consumer.append(i % partitions, message_key(event), encode_event(event))
    return consumer


def run(
    consumer: FakeConsumer,
    group: RecordingGroup,
    *,
    batch_size: int = 5,
    retry: RetryPolicy | None = None,
    producer: FakeProducer | None = None,
    limit: DeadLetterLimit | None = None,
    metrics: PipelineMetrics | None = None,
    readiness: Readiness | None = None,
) -> BatchRuntime:
    spec = GroupSpec(
        "g", CAMPAIGN, batch_size=batch_size, max_wait=0.5, retry=retry or RetryPolicy()
    )
    stop = threading.Event()

    def drained() -> None:
        if all(consumer.committed_offset(p) == len(log) for p, log in consumer.log.items()):
            stop.set()

    consumer.on_wait = drained
    dlq = DeadLetterPublisher(producer or FakeProducer(), "dlq", "g")
    runtime = BatchRuntime(
        consumer,
        group,
        spec,
        dlq,
        limit=limit,
        metrics=metrics,
        readiness=readiness,
        clock=consumer.clock,
    )
    runtime.run(stop)
    return runtime


def offsets(items: list[TypedEnvelope]) -> list[tuple[int, int]]:
    return [(i.partition, i.offset) for i in items]


def test_every_event_is_handled_once_in_partition_order_and_committed_after_handle() -> None:
    clock = FakeClock()
    consumer = make_consumer(clock)
    group = RecordingGroup()
    run(consumer, group)
    assert sorted(offsets(group.handled)) == [(p, o) for p in (0, 1) for o in range(10)]
    for p in (0, 1):
        seen = [o for q, o in offsets(group.handled) if q == p]
        assert seen == sorted(seen)
        assert consumer.committed_offset(p) == 10
    assert group.flushes == group.calls
    assert group.closed


def test_an_outage_pauses_retries_with_backoff_and_never_dead_letters() -> None:
    clock = FakeClock()
    consumer = make_consumer(clock, count=4, partitions=1)
    group = RecordingGroup(script=[RetryableError("db down")] * 3)
    producer = FakeProducer()
    start = clock.now
    runtime = run(
        consumer,
        group,
        batch_size=10,
        producer=producer,
        retry=RetryPolicy(initial_delay=1.0, multiplier=2.0, max_delay=10.0),
    )
    assert offsets(group.handled) == [(0, o) for o in range(4)]
    assert clock.now - start >= 1 + 2 + 4  # three growing delays
    assert consumer.pause_calls == 1 and not consumer.paused
    assert producer.delivered == [] and runtime.dead_lettered == 0
    assert consumer.committed_offset(0) == 4


def test_backpressure_waits_for_retry_after() -> None:
    clock = FakeClock()
    consumer = make_consumer(clock, count=3, partitions=1)
    group = RecordingGroup(script=[Backpressure("slow down", retry_after=42.0)])
    start = clock.now
    run(consumer, group, batch_size=10)
    assert clock.now - start >= 42.0
    assert len(group.handled) == 3


def test_invalid_event_is_isolated_by_bisection_and_neighbours_are_handled() -> None:
    clock = FakeClock()
    consumer = make_consumer(clock, count=16, partitions=1)
    group = RecordingGroup(reject=lambda item: item.offset == 11)
    producer = FakeProducer()
    runtime = run(consumer, group, batch_size=16, producer=producer)
    assert offsets(group.handled) == [(0, o) for o in range(16) if o != 11]
    assert [int(dict(m["headers"])[h.DLQ_ORIGINAL_OFFSET]) for m in producer.delivered] == [11]
    assert runtime.dead_lettered == 1
    assert consumer.committed_offset(0) == 16


def test_undecodable_bytes_are_dead_lettered_without_reaching_the_group() -> None:
    clock = FakeClock()
    consumer = make_consumer(clock, count=3, partitions=1)
    consumer.append(0, b"C1", b"garbage")
    producer = FakeProducer()
    run(consumer, RecordingGroup(), producer=producer)
    (letter,) = producer.delivered
    headers = {k: v.decode() for k, v in letter["headers"]}
    assert letter["value"] == b"garbage" and headers[h.DLQ_ERROR_CLASS] == "DecodeError"
    assert consumer.committed_offset(0) == 4


def test_offsets_wait_until_dead_letters_are_confirmed() -> None:
    clock = FakeClock()
    consumer = make_consumer(clock, count=2, partitions=1)
    consumer.append(0, b"C1", b"garbage")
    producer = FakeProducer()
    producer.fail_flushes = 2
    commits_before_delivery: list[int] = []
    original_commit = consumer.commit

    def commit(**kwargs: object) -> None:
        commits_before_delivery.append(len(producer.delivered))
        original_commit(**kwargs)

    consumer.commit = commit  # type: ignore[method-assign]
    run(consumer, RecordingGroup(), producer=producer, retry=RetryPolicy(initial_delay=0.1))
    assert commits_before_delivery == [1]
    assert consumer.committed_offset(0) == 3


def test_too_many_dead_letters_stop_the_group_without_committing() -> None:
    clock = FakeClock()
    consumer = make_consumer(clock, count=10, partitions=1)
    group = RecordingGroup(reject=lambda item: True)
    with pytest.raises(DeadLetterLimitExceeded):
        run(consumer, group, batch_size=10, limit=DeadLetterLimit(max_consecutive=3))
    assert consumer.commits == []


def test_an_unexpected_error_stops_the_group_without_committing() -> None:
    clock = FakeClock()
    consumer = make_consumer(clock, count=10, partitions=1)
    group = RecordingGroup(script=[None, KeyError("bug")])
    with pytest.raises(KeyError):
        run(consumer, group, batch_size=5)
    assert consumer.commits == [{0: 5}]
    assert group.closed


def test_retries_exhausted_stops_the_group() -> None:
    clock = FakeClock()
    consumer = make_consumer(clock, count=2, partitions=1)
    group = RecordingGroup(script=[RetryableError("down")] * 10)
    with pytest.raises(RetriesExhausted):
        run(consumer, group, retry=RetryPolicy(initial_delay=0.1, max_attempts=3))
    assert consumer.commits == []


def test_a_partition_revoked_during_an_outage_is_neither_handled_nor_committed() -> None:
    clock = FakeClock()
    consumer = make_consumer(clock, count=6, partitions=2)
    group = RecordingGroup(script=[RetryableError("down"), RetryableError("down")])
    original_consume = consumer.consume

    def consume(num_messages: int = 1, timeout: float = -1) -> list[FakeMessage]:
        if consumer.paused and 1 in consumer.log:  # a rebalance during the retry wait
            consumer.revoke([1])
        return original_consume(num_messages, timeout)

    consumer.consume = consume  # type: ignore[method-assign]
    run(consumer, group, batch_size=10, retry=RetryPolicy(initial_delay=0.1))
    assert offsets(group.handled) == [(0, 0), (0, 1), (0, 2)]
    assert consumer.commits == [{0: 3}]


def test_messages_that_arrive_during_an_outage_are_kept_in_order() -> None:
    clock = FakeClock()
    consumer = make_consumer(clock, count=12, partitions=2)
    consumer.pause = lambda partitions: None  # type: ignore[method-assign]  # pause ineffective
    group = RecordingGroup(script=[RetryableError("down")] * 3)
    run(consumer, group, batch_size=3, retry=RetryPolicy(initial_delay=1.0))
    assert sorted(offsets(group.handled)) == [(p, o) for p in (0, 1) for o in range(6)]
    for p in (0, 1):
        seen = [o for q, o in offsets(group.handled) if q == p]
        assert seen == list(range(6))
    assert all(len(c) <= 2 for c in consumer.commits)


def test_metrics_and_readiness_follow_the_runtime() -> None:
    clock = FakeClock()
    consumer = make_consumer(clock, count=6, partitions=1)
    consumer.append(0, b"C1", b"garbage")
    metrics = PipelineMetrics(CollectorRegistry())
    readiness = Readiness()
    seen_ready: list[dict[str, bool]] = []
    group = RecordingGroup(script=[RetryableError("down")])
    original = group.handle

    def handle(batch: Sequence[TypedEnvelope]) -> None:
        seen_ready.append(readiness.evaluate())
        original(batch)

    group.handle = handle  # type: ignore[method-assign]
    run(consumer, group, batch_size=10, metrics=metrics, readiness=readiness)
    sample = metrics.registry.get_sample_value
    assert sample("dbsync2_events_consumed_total", {"group": "g"}) == 6
    assert sample("dbsync2_dead_letters_total", {"group": "g"}) == 1
    assert sample("dbsync2_retries_total", {"group": "g", "reason": "retryable"}) == 1
    assert sample("dbsync2_paused", {"group": "g"}) == 0
    assert seen_ready[0] == {"not_paused": True, "partitions_assigned": True}
    assert seen_ready[1]["not_paused"] is False
    assert readiness.is_ready()
