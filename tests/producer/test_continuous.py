"""Continuous polling: live activity within one interval; downtime and restarts lose nothing."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from producer.clock import SystemClock
from schemas.events import TransactionEvent, TransactionState
from tests.producer.conftest import ProducerHandle, SimHandle
from tests.producer.support import (
    assert_topic_matches_truth,
    content_of,
    entity_of,
    expected_entities,
    latest_by_entity,
    read_topic,
)
from tests.support.waiting import wait_for


class ShiftedClock(SystemClock):
    """The real clock moved forward: the producer believes it was down for `shift`."""

    def __init__(self, shift: timedelta) -> None:
        self.shift = shift

    def now(self) -> datetime:
        return super().now() + self.shift


@contextmanager
def running(handle: ProducerHandle) -> Iterator[threading.Thread]:
    """Run `run_continuous` in a thread; stop it (SIGTERM's path) and join on exit."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            handle.producer.run_continuous(stop)
        except BaseException as exc:  # surfaced below: a crash must fail the test
            errors.append(exc)

    thread = threading.Thread(target=target, name="producer-under-test")
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "run_continuous did not stop"
        assert not errors, errors
        assert handle.producer.failed_cycles == 0


def truth_is_on_topic(handle: ProducerHandle, sim: SimHandle) -> bool:
    truth = sim.truth()
    latest = latest_by_entity(read_topic(handle.bootstrap, handle.topic))
    expected = expected_entities(truth)
    return all(
        key in latest and content_of(latest[key].event) == want["content"]
        for key, want in expected.items()
    )


def test_continuous_picks_up_live_activity_within_one_interval(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    sim = start_sim(contacts=40, inbound_calls=5)
    handle = make_producer(sim)  # interval 1 s, overlap 2 s
    with running(handle):
        wait_for(lambda: handle.producer.state.checkpoint() is not None, 30, 0.05, "no load")
        before = len(handle.records())
        applied = sim.activity(25)
        changed_at = time.monotonic()
        wait_for(lambda: truth_is_on_topic(handle, sim), 15, 0.1, "activity not published")
        latency = time.monotonic() - changed_at
    records = handle.records()
    assert_topic_matches_truth(records, sim.truth())
    assert len(records) > before
    assert sum(applied.values()) == 25
    states = Counter(
        r.event.state for r in records[before:] if isinstance(r.event, TransactionEvent)
    )
    if applied.get("update_transaction"):
        assert states[TransactionState.UPDATED] >= 1
    # One interval (1 s) plus one cycle's work and our topic reads; measured ~1.2 s here.
    assert latency < 3.0, latency


def test_downtime_then_restart_loses_nothing_and_resends_nothing(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    sim = start_sim(contacts=40, inbound_calls=5)
    first = make_producer(sim)
    first.producer.run_initial_load()
    first.producer.run_poll_cycle()
    confirmed = {r.event.event_id for r in first.records()}
    first.close()

    # Down for "30 minutes" (many intervals, far beyond the original's 2-minute window, W2):
    # activity happens meanwhile, then the restarted producer sees a clock 30 minutes later.
    for _ in range(3):
        sim.activity(10)
    restarted = make_producer(sim, clock=ShiftedClock(timedelta(minutes=30)))
    report = restarted.producer.run_cycle()

    records = restarted.records()
    assert report.completed and report.kind == "poll"
    assert_topic_matches_truth(records, sim.truth())
    ids = Counter(r.event.event_id for r in records)
    assert all(n == 1 for n in ids.values()), "an event was published twice"
    new = [r for r in records if r.event.event_id not in confirmed]
    assert len(new) == report.total > 0
    # Versions keep growing across the restart, so consumers never go backwards.
    first_versions = {
        entity_of(r.event): r.event.version for r in records if r.event.event_id in confirmed
    }
    for record in new:
        old = first_versions.get(entity_of(record.event))
        assert old is None or record.event.version > old


def test_due_reconciliation_md5_compares_every_contact_and_publishes_what_changed(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    sim = start_sim(contacts=50, inbound_calls=5)
    handle = make_producer(sim, reconcile_interval=timedelta(0))  # always due
    handle.producer.run_initial_load()
    listed_before = sim.control("GET", "stats")["requests"]["E2"]
    sim.activity(15)

    reconciled = handle.producer.run_reconciliation()
    poll = handle.producer.run_cycle()  # reconciles again (due), then polls: nothing left

    assert reconciled.completed and reconciled.total > 0
    assert poll.completed and poll.total == 0
    assert sim.control("GET", "stats")["requests"]["E2"] >= listed_before + 2
    assert_topic_matches_truth(handle.records(), sim.truth())
