"""The API a consumer group implements: the ConsumerGroup protocol, its GroupSpec and batch items.

A group owns only its side effect. The runtime (`consumers.runtime.batch_runtime`) owns polling,
decoding, batching, retries, dead letters and commits. Guarantees a group can rely on:

- at least once: every event reaches `handle` at least once; after a crash, a retry, a bisection
  or a replay it may arrive again, so `handle` must be idempotent (key writes by event or
  transaction id, guard on `event.version`);
- per-contact order: events of one contact (one Kafka key) arrive in the order they were
  produced, within a batch and across batches, also across rebalances;
- offsets are committed only after `handle` (and `flush`, if the group has it) returned, so a
  side effect made durable in `handle` is never skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from consumers.runtime.envelope import Envelope
from schemas import Event


@dataclass(frozen=True, slots=True)
class TypedEnvelope:
    """One decoded event with the Kafka coordinates it arrived with (the event is never None)."""

    event: Event
    envelope: Envelope

    @property
    def topic(self) -> str:
        """The topic the event was read from."""
        return self.envelope.topic

    @property
    def partition(self) -> int:
        """The partition the event was read from."""
        return self.envelope.partition

    @property
    def offset(self) -> int:
        """The event's offset in its partition."""
        return self.envelope.offset

    @property
    def timestamp_ms(self) -> int:
        """The Kafka message timestamp (milliseconds since the epoch, UTC)."""
        return self.envelope.timestamp_ms


@runtime_checkable
class ConsumerGroup(Protocol):
    """What a custom consumer group implements.

    `handle` receives one batch in offset order per partition. It returns normally when the
    batch's side effects are done (or buffered, if the group also has `flush`), and raises
    `RetryableError` for an outage, `Backpressure(retry_after)` to slow down, or
    `InvalidEvent(reason)` when an event can never succeed: the runtime then bisects the batch,
    dead-letters only the offending event and hands the rest back to `handle`.
    An optional `flush() -> None` is called before every offset commit.
    """

    def handle(self, batch: Sequence[TypedEnvelope]) -> None:
        """Apply one batch of events (idempotently)."""
        ...

    def close(self) -> None:
        """Release the group's resources; called once on a graceful stop."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """How the runtime retries a batch after `RetryableError` or `Backpressure`.

    Delays grow from `initial_delay` by `multiplier` up to `max_delay`. `max_attempts=None` retries
    an outage for ever (the partitions stay paused, nothing is dead-lettered); a number stops the
    group (exit code 2) after that many failed attempts of one batch. A `Backpressure` delay is
    honoured up to `max_retry_after` seconds, so a confused sink cannot stall the group for days.
    """

    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    max_attempts: int | None = None
    max_retry_after: float = 300.0

    def delay(self, attempt: int) -> float:
        """Return the delay before retry number `attempt` (1 = the first retry)."""
        return min(self.max_delay, self.initial_delay * self.multiplier ** max(0, attempt - 1))


@dataclass(frozen=True)
class GroupSpec:
    """Where a group reads from and how the runtime batches and retries for it.

    `group_id` is the Kafka consumer group id (by convention `dbsync2.<campaign>.<name>`);
    `name` names the dead-letter topic `dbsync2.<campaign>.dlq.<name>`. A batch is handed over
    when it holds `batch_size` events or `max_wait` seconds passed since its first event arrived:
    `max_wait` bounds the latency a quiet topic adds, `batch_size` bounds memory and the cost of
    bisecting a batch with a poison event.
    """

    name: str
    campaign: str
    group_id: str = ""
    batch_size: int = 500
    max_wait: float = 1.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if not self.name or not self.campaign:
            raise ValueError("a GroupSpec needs a name and a campaign")
        if self.batch_size < 1 or self.max_wait <= 0:
            raise ValueError("batch_size must be >= 1 and max_wait > 0")
        if not self.group_id:
            object.__setattr__(self, "group_id", default_group_id(self.campaign, self.name))


def default_group_id(campaign: str, name: str) -> str:
    """Return the conventional Kafka group id of a group: `dbsync2.<campaign>.<name>`."""
    return f"dbsync2.{campaign}.{name}"


@dataclass(frozen=True)
class GroupContext:
    """What a group's constructor receives: where it runs and the `--option key=value` pairs."""

    campaign: str
    name: str
    group_id: str
    options: Mapping[str, str] = field(default_factory=dict)

    def option(self, key: str, default: str | None = None) -> str:
        """Return option `key`; raise ValueError naming the option when it is missing."""
        value = self.options.get(key, default)
        if value is None:
            raise ValueError(f"option {key!r} is required (pass --option {key}=...)")
        return value
