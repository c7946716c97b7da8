"""The conformance suite any custom consumer group can run against itself, with real Kafka.

Three checks, each on a fresh campaign (its own topics and consumer groups):

- `check_crash_and_restart`: the group crashes in the middle of a batch (no `close`, no commit,
  like `kill -9`); a new instance takes over; afterwards the sink holds exactly what one pass
  over all events gives. Loss (acknowledging before the side effect is durable) or double
  counting (a non-idempotent `handle`) fail it.
- `check_poison_event`: undecodable bytes and, if the harness offers one, an event the group
  rejects with `InvalidEvent` sit between good events; exactly those go to the dead-letter topic
  and every neighbour is handled.
- `check_replay_idempotent`: after a full pass, a second pass from the earliest offset (a new
  group id: what `dbsync2 replay --to earliest` does) leaves the sink unchanged.

Use it from pytest by subclassing `ConsumerGroupConformance` in a `Test...` class and providing a
`conformance_harness` fixture (a fresh, empty sink per test) and a `kafka_bootstrap` fixture.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from consumers.custom.harness_kafka import (
    Message,
    dead_letter_offsets,
    messages_of,
    publish,
    read_dead_letters,
    run_until_caught_up,
    run_until_crash,
    scratch_campaign,
)
from consumers.custom.sample_events import sample_events
from consumers.runtime.group import ConsumerGroup, GroupSpec, RetryPolicy, TypedEnvelope
from schemas import Event
from schemas.topics import dead_letter_topic, events_topic

POISON_BYTES = b"\x00 this is not an Avro single-object message"
# Small batches, so a crash lands in the middle of the stream and bisection has work to do.
BATCH_SIZE = 7
CRASH_ON_CALL = 3


class GroupHarness(Protocol):
    """What a group's test provides to the suite; one harness = one empty sink."""

    def make_group(self) -> ConsumerGroup:
        """Return a new instance of the group, writing to this harness's sink."""
        ...

    def snapshot(self) -> object:
        """Return the sink's current state as a comparable value."""
        ...

    def expected(self, events: Sequence[Event]) -> object:
        """Return what `snapshot` must equal after every event was applied once, in order."""
        ...


class ConformanceFailure(AssertionError):
    """The group broke one of the runtime's promises it must keep (see the module docstring)."""


class SimulatedCrash(Exception):
    """Raised by CrashingGroup to stop the runtime like a killed process."""


class CrashingGroup:
    """Wraps a group: on call `crash_on_call` it handles half the batch, then 'dies'."""

    def __init__(self, inner: ConsumerGroup, crash_on_call: int) -> None:
        self._inner = inner
        self._crash_on_call = crash_on_call
        self._calls = 0
        self.crashed = False

    def handle(self, batch: Sequence[TypedEnvelope]) -> None:
        """Pass batches through until the crash."""
        self._calls += 1
        if self._calls == self._crash_on_call:
            self._inner.handle(batch[: max(1, len(batch) // 2)])
            self.crashed = True
            raise SimulatedCrash(f"simulated crash in handle call {self._calls}")
        self._inner.handle(batch)

    def flush(self) -> None:
        """Pass flush through (groups without flush are fine)."""
        flush = getattr(self._inner, "flush", None)
        if callable(flush):
            flush()

    def close(self) -> None:
        """After a crash do nothing: a killed process never closes gracefully."""
        if not self.crashed:
            self._inner.close()


def _spec(campaign: str, name: str, group_id: str | None = None) -> GroupSpec:
    return GroupSpec(
        name=name,
        campaign=campaign,
        group_id=group_id or f"conformance-{uuid.uuid4().hex[:10]}",
        batch_size=BATCH_SIZE,
        max_wait=0.2,
        retry=RetryPolicy(initial_delay=0.05, max_delay=0.5, max_attempts=50),
    )


def _events(harness: GroupHarness, campaign: str) -> list[Event]:
    custom = getattr(harness, "events", None)
    return list(custom(campaign)) if callable(custom) else sample_events(campaign)


def _compare(harness: GroupHarness, events: Sequence[Event], what: str) -> None:
    actual, expected = harness.snapshot(), harness.expected(events)
    if actual != expected:
        raise ConformanceFailure(
            f"{what}: sink state differs from one pass over the events\n"
            f"  expected: {expected!r}\n  actual:   {actual!r}"
        )


def check_crash_and_restart(harness: GroupHarness, bootstrap: str, name: str = "conf") -> None:
    """Crash mid-batch, restart, and require exactly-once results (at-least-once + idempotent)."""
    with scratch_campaign(bootstrap, name) as campaign:
        events = _events(harness, campaign)
        publish(bootstrap, events_topic(campaign), messages_of(events))
        spec = _spec(campaign, name)
        crashing = CrashingGroup(harness.make_group(), CRASH_ON_CALL)
        raised = run_until_crash(bootstrap, spec, crashing)
        if not crashing.crashed:
            raise ConformanceFailure(f"the group failed before the simulated crash: {raised!r}")
        run_until_caught_up(bootstrap, spec, harness.make_group())
        _compare(harness, events, "after a crash and a restart")


def check_poison_event(harness: GroupHarness, bootstrap: str, name: str = "conf") -> None:
    """Dead-letter exactly the poison messages; handle every neighbour."""
    with scratch_campaign(bootstrap, name) as campaign:
        events = _events(harness, campaign)
        messages: list[Message] = messages_of(events)
        third = len(messages) // 3
        messages.insert(third, Message(messages[third].key, POISON_BYTES))
        make_poison: Any = getattr(harness, "poison_event", None)
        rejected = make_poison(campaign) if callable(make_poison) else None
        if rejected is not None:
            messages.insert(2 * third, messages_of([rejected])[0])
        publish(bootstrap, events_topic(campaign), messages)
        spec = _spec(campaign, name)
        run_until_caught_up(bootstrap, spec, harness.make_group())
        letters = read_dead_letters(bootstrap, dead_letter_topic(campaign, name))
        wanted = 1 + (rejected is not None)
        if len(letters) != wanted:
            raise ConformanceFailure(
                f"expected {wanted} dead letter(s), found {len(letters)}: "
                f"{dead_letter_offsets(letters)}"
            )
        _compare(harness, events, "with poison events between good ones")


def check_replay_idempotent(harness: GroupHarness, bootstrap: str, name: str = "conf") -> None:
    """A second full pass from the earliest offset must not change the sink."""
    with scratch_campaign(bootstrap, name) as campaign:
        events = _events(harness, campaign)
        publish(bootstrap, events_topic(campaign), messages_of(events))
        run_until_caught_up(bootstrap, _spec(campaign, name), harness.make_group())
        _compare(harness, events, "after the first pass")
        run_until_caught_up(bootstrap, _spec(campaign, name), harness.make_group())
        _compare(harness, events, "after replaying from the earliest offset")


class ConsumerGroupConformance:
    """Mix into a `Test...` class; provide `conformance_harness` and `kafka_bootstrap` fixtures."""

    def test_crash_and_restart(
        self, conformance_harness: GroupHarness, kafka_bootstrap: str
    ) -> None:
        """At least once across a crash, with an idempotent result."""
        check_crash_and_restart(conformance_harness, kafka_bootstrap)

    def test_poison_event(self, conformance_harness: GroupHarness, kafka_bootstrap: str) -> None:
        """Poison goes to the dead-letter topic; neighbours are handled."""
        check_poison_event(conformance_harness, kafka_bootstrap)

    def test_replay_idempotent(
        self, conformance_harness: GroupHarness, kafka_bootstrap: str
    ) -> None:
        """Replaying from the earliest offset changes nothing."""
        check_replay_idempotent(conformance_harness, kafka_bootstrap)


__all__ = [
    "ConformanceFailure",
    "ConsumerGroupConformance",
    "CrashingGroup",
    "GroupHarness",
    "check_crash_and_restart",
    "check_poison_event",
    "check_replay_idempotent",
]
