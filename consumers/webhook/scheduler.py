"""Per-contact FIFO queues: which event may be attempted next, and when.

Only the head of a contact's queue is ever attempted, so events of one contact are delivered
strictly in order: the next one waits until the previous is delivered or dead-lettered. Heads
of different contacts are independent and may be in flight at the same time.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field

from consumers.runtime.dead_letter import DeadLetter
from consumers.runtime.envelope import Envelope
from schemas import TransactionEvent
from schemas import headers as h


class PendingState(enum.Enum):
    """Where a pending event is in its life."""

    QUEUED = "queued"  # behind an earlier event of the same contact
    READY = "ready"  # head of its queue, may be attempted now
    WAITING = "waiting"  # head of its queue, waiting for its retry time
    IN_FLIGHT = "in_flight"


@dataclass(eq=False)
class PendingEvent:
    """One transaction event being delivered, with its attempt history."""

    envelope: Envelope
    event: TransactionEvent
    seq: int
    state: PendingState = PendingState.QUEUED
    attempts: int = 0
    due: float = 0.0
    first_attempt_at: str = ""
    last_attempt_at: str = ""
    last_status: int | None = None
    last_excerpt: str = ""
    last_error: str = ""
    last_outcome: str = ""
    abandoned: bool = False
    key: tuple[int, str] = field(default=(0, ""))
    size: int = 0  # payload bytes it holds (Kafka key + value), for the relay's byte bound


def payload_size(envelope: Envelope) -> int:
    """Return the bytes an event arrived with (key + value): what the byte bound counts."""
    return len(envelope.key or b"") + len(envelope.value or b"")


class ContactScheduler:
    """Holds the contact queues, a FIFO of ready heads and a heap of waiting heads.

    It also counts what it holds, in events (`len`) and in payload bytes (`buffered_bytes`),
    which is what the relay's backpressure bounds.
    """

    def __init__(self) -> None:
        self._queues: dict[tuple[int, str], deque[PendingEvent]] = {}
        self._ready: deque[PendingEvent] = deque()
        self._waiting: list[tuple[float, int, PendingEvent]] = []
        self._count = 0
        self.buffered_bytes = 0
        self._tie = itertools.count()

    def __len__(self) -> int:
        return self._count

    def add(self, pending: PendingEvent) -> None:
        """Queue an event behind earlier events of its contact."""
        queue = self._queues.get(pending.key)
        if queue is None:
            queue = self._queues[pending.key] = deque()
        queue.append(pending)
        self._count += 1
        self.buffered_bytes += pending.size
        if len(queue) == 1:
            self._make_ready(pending)

    def _make_ready(self, pending: PendingEvent) -> None:
        pending.state = PendingState.READY
        self._ready.append(pending)

    def pop_ready(self, now: float) -> PendingEvent | None:
        """Return the next head that may be attempted now (marked IN_FLIGHT), else None."""
        while self._waiting and self._waiting[0][0] <= now:
            due, _, pending = heapq.heappop(self._waiting)
            if pending.state is PendingState.WAITING and pending.due == due:
                self._make_ready(pending)
        while self._ready:
            pending = self._ready.popleft()
            if pending.state is PendingState.READY and not pending.abandoned:
                pending.state = PendingState.IN_FLIGHT
                return pending
        return None

    def push_back(self, pending: PendingEvent) -> None:
        """Undo `pop_ready` (no capacity or no token yet): it goes first next time."""
        pending.state = PendingState.READY
        self._ready.appendleft(pending)

    def retry_at(self, pending: PendingEvent, due: float) -> None:
        """Put a head back to wait until `due`."""
        pending.state = PendingState.WAITING
        pending.due = due
        heapq.heappush(self._waiting, (due, next(self._tie), pending))

    def next_due(self) -> float | None:
        """Return the earliest retry time of a waiting head, if any."""
        while self._waiting and self._waiting[0][2].state is not PendingState.WAITING:
            heapq.heappop(self._waiting)
        return self._waiting[0][0] if self._waiting else None

    def has_ready(self) -> bool:
        """True if some head may be attempted now."""
        return any(p.state is PendingState.READY for p in self._ready)

    def oldest_head(self) -> PendingEvent | None:
        """Return the oldest head not in flight (the circuit breaker's probe), marked IN_FLIGHT."""
        heads = [q[0] for q in self._queues.values() if q[0].state is not PendingState.IN_FLIGHT]
        if not heads:
            return None
        oldest = min(heads, key=lambda p: p.seq)
        oldest.state = PendingState.IN_FLIGHT
        return oldest

    def complete(self, pending: PendingEvent) -> None:
        """Remove a delivered or dead-lettered head; the contact's next event becomes ready."""
        queue = self._queues.get(pending.key)
        if not queue or queue[0] is not pending:
            return
        queue.popleft()
        self._count -= 1
        self.buffered_bytes -= pending.size
        pending.state = PendingState.QUEUED
        if queue:
            self._make_ready(queue[0])
        else:
            del self._queues[pending.key]

    def drop_partitions(self, partitions: set[int]) -> list[PendingEvent]:
        """Remove every event of the given partitions (revoked) and return them, abandoned."""
        dropped: list[PendingEvent] = []
        for key in [k for k in self._queues if k[0] in partitions]:
            for pending in self._queues.pop(key):
                pending.abandoned = True
                dropped.append(pending)
        self._count -= len(dropped)
        self.buffered_bytes -= sum(p.size for p in dropped)
        return dropped


def build_dead_letter(
    envelope: Envelope, error_class: str, message: str, pending: PendingEvent | None = None
) -> DeadLetter:
    """Return the dead letter of an event given up on: last status, excerpt, attempt times."""
    extra = {h.DLQ_LAST_STATUS: "none", h.DLQ_RESPONSE_EXCERPT: ""}
    if pending is None:  # never attempted (undecodable)
        return DeadLetter(envelope, error_class, message, 0, "", "", extra)
    if pending.last_status is not None:
        extra[h.DLQ_LAST_STATUS] = str(pending.last_status)
    extra[h.DLQ_RESPONSE_EXCERPT] = pending.last_excerpt
    return DeadLetter(
        envelope,
        error_class,
        message,
        pending.attempts,
        pending.first_attempt_at,
        pending.last_attempt_at,
        extra,
    )
