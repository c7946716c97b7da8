"""Two instances of one custom group share the partitions; per-contact order survives rebalances."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence

import pytest

from consumers.custom.harness_kafka import (
    committed_all,
    messages_of,
    publish,
    scratch_campaign,
)
from consumers.custom.sample_events import sample_events
from consumers.custom.wiring import RunningGroup, build_running_group
from consumers.runtime.group import GroupSpec, TypedEnvelope
from schemas.topics import events_topic
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class OrderLog:
    """Shared by both instances: every handled event as (instance, partition, contact, version)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[tuple[str, int, str, int, str]] = []

    def group(self, instance: str) -> LoggingGroup:
        return LoggingGroup(self, instance)


class LoggingGroup:
    def __init__(self, log: OrderLog, instance: str) -> None:
        self._log, self._instance = log, instance

    def handle(self, batch: Sequence[TypedEnvelope]) -> None:
        with self._log.lock:
            self._log.entries.extend(
                (
                    self._instance,
                    i.partition,
                    i.event.contact_id or "",
                    i.event.version,
                    i.event.event_id,
                )
                for i in batch
            )

    def close(self) -> None:
        pass


def start(running: RunningGroup) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def test_two_instances_share_partitions_and_keep_per_contact_order(kafka_bootstrap: str) -> None:
    with scratch_campaign(kafka_bootstrap, "scale") as campaign:
        topic = events_topic(campaign)
        events = sample_events(campaign, contacts=12, per_contact=30)
        chunks = [events[i : i + len(events) // 4] for i in range(0, len(events), len(events) // 4)]
        spec = GroupSpec("scale", campaign, batch_size=20, max_wait=0.1)
        log = OrderLog()
        overrides = {"session.timeout.ms": 6000}

        def handled() -> int:
            with log.lock:
                return len({e[4] for e in log.entries})

        a = build_running_group(kafka_bootstrap, spec, log.group("a"), consumer_overrides=overrides)
        stop_a, thread_a = start(a)
        publish(kafka_bootstrap, topic, messages_of(chunks[0]))
        wait_for(lambda: handled() >= len(chunks[0]), 60, message="instance a idle")

        b = build_running_group(kafka_bootstrap, spec, log.group("b"), consumer_overrides=overrides)
        stop_b, thread_b = start(b)
        wait_for(lambda: bool(b.runtime.assigned), 60, message="instance b got no partition")
        shared_a, shared_b = set(a.runtime.assigned), set(b.runtime.assigned)
        assert shared_a and shared_b and not shared_a & shared_b
        publish(kafka_bootstrap, topic, messages_of(chunks[1]))
        done = len(chunks[0]) + len(chunks[1])
        wait_for(lambda: handled() >= done, 60, message="a and b did not share the work")

        stop_a.set()
        thread_a.join(30)
        for chunk in chunks[2:]:
            publish(kafka_bootstrap, topic, messages_of(chunk))
        wait_for(
            lambda: committed_all(kafka_bootstrap, spec.group_id, topic),
            60,
            message="b did not take over a's partitions",
        )
        stop_b.set()
        thread_b.join(30)

    assert {e[4] for e in log.entries} == {e.event_id for e in events}
    assert {e[0] for e in log.entries} == {"a", "b"}
    assert {e[1] for e in log.entries if e[0] == "b"} == {0, 1, 2}  # b ended up with everything
    versions: dict[str, list[int]] = defaultdict(list)
    for _instance, _partition, contact, version, _event_id in log.entries:
        seen = versions[contact]
        # In order, or a re-delivery of something already handled (at least once): never older
        # news after newer news.
        assert not seen or version >= max(seen) or version in seen, (contact, seen, version)
        seen.append(version)
