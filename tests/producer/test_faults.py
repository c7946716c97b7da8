"""Injected 5xx, 429 bursts, latency and malformed answers are ridden out without loss."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from producer.dialfire import DialfireResponseError
from simulator.faults import FaultConfig
from tests.producer.conftest import ProducerHandle, SimHandle
from tests.producer.support import assert_topic_matches_truth
from tests.support.waiting import wait_for


def test_5xx_429_and_latency_are_ridden_out(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    faults = FaultConfig(
        error_rate=0.15, burst_429=3, burst_429_every=12, retry_after_s=1, latency_ms=15, seed=5
    )
    sim = start_sim(contacts=150, inbound_calls=20, faults=faults)
    handle = make_producer(sim)

    report = handle.producer.run_initial_load()
    sim.activity(20)
    handle.producer.run_poll_cycle()

    assert report.completed
    assert_topic_matches_truth(handle.records(), sim.truth())
    injected = sim.control("GET", "stats")["faults"]
    assert injected.get("http_429", 0) >= 3
    assert sum(v for k, v in injected.items() if k.startswith("http_5")) >= 1
    assert handle.producer.api.stats.retries >= 4  # type: ignore[attr-defined]


def test_malformed_answers_fail_the_cycle_and_the_next_cycle_recovers(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    sim = start_sim(contacts=60, inbound_calls=5)
    handle = make_producer(sim)
    sim.control("POST", "faults", json={"malformed_rate": 1.0, "malformed_modes": ["truncated"]})

    with pytest.raises(DialfireResponseError):
        handle.producer.run_initial_load()
    assert handle.producer.state.checkpoint() is None  # nothing was marked as done

    sim.control("POST", "faults", json={"malformed_rate": 0.0})
    report = handle.producer.run_cycle()

    assert report.completed and report.kind == "initial"
    assert_topic_matches_truth(handle.records(), sim.truth())


def test_every_kind_of_malformed_answer_is_survived_without_publishing_garbage(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    faults = FaultConfig(malformed_rate=0.1, seed=11)  # truncated, wrong types, no $task_log
    sim = start_sim(contacts=120, inbound_calls=30, faults=faults)
    handle = make_producer(sim, chunk_contacts=20)
    failures: list[str] = []

    def cycle_completes() -> bool:
        try:
            return handle.producer.run_cycle().completed
        except DialfireResponseError as exc:
            failures.append(str(exc))
            return False

    wait_for(cycle_completes, 60, 0.0, "no cycle ever completed")

    injected = sim.control("GET", "stats")["faults"]
    assert sum(v for k, v in injected.items() if k.startswith("malformed_")) >= 1
    assert failures  # malformed answers did fail cycles ...
    records = handle.records()
    assert_topic_matches_truth(records, sim.truth())  # ... and nothing malformed was published
    assert len(records) == len({r.event.event_id for r in records})
