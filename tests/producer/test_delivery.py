"""State advances only after Kafka confirmed: a failed confirm leads to re-publishing, same ids."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import pytest

from producer.publisher import EventPublisher, PublishError
from schemas.events import Event
from tests.producer.conftest import ProducerHandle, SimHandle
from tests.producer.support import assert_topic_matches_truth, entity_of


class FailingConfirm:
    """Publishes for real, but reports the first `failures` confirms as failed (a lost ack)."""

    def __init__(self, inner: EventPublisher, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    def publish(self, event: Event) -> None:
        self.inner.publish(event)

    def confirm(self) -> None:
        self.inner.confirm()
        if self.failures > 0:
            self.failures -= 1
            raise PublishError("simulated: broker did not acknowledge")


def test_a_failed_confirm_advances_nothing_and_the_next_run_republishes_the_same_ids(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    sim = start_sim(contacts=30, inbound_calls=5)
    handle = make_producer(sim)
    producer = handle.producer
    producer.publisher = FailingConfirm(producer.publisher, failures=1)

    with pytest.raises(PublishError):
        producer.run_initial_load()
    assert producer.state.checkpoint() is None
    assert producer.state.counts() == {"contacts": 0, "transactions": 0, "inbound_calls": 0}

    report = producer.run_cycle()

    records = handle.records()
    assert report.completed
    assert_topic_matches_truth(records, sim.truth())
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in records:
        ids[entity_of(record.event)].add(record.event.event_id)
    assert all(len(v) == 1 for v in ids.values())
    assert len(records) > len(ids)  # the unconfirmed batch really was published twice
