"""Tell an endpoint outage from a bad event: a circuit breaker over consecutive attempts.

Rule (also in docs/webhook-relay.md): the breaker OPENS when the last `threshold` attempts
(default 5), across all contacts, all failed with an outage-class failure (connection error,
timeout or 5xx) AND either they involve at least 2 distinct contacts or all of them were
connection errors (a refused connection cannot be the event's fault). Any delivered attempt or
any non-outage answer (4xx, 3xx) resets the streak. While open, failures are not counted against
events, and the attempts of the streak that opened it are refunded to their events. The breaker
CLOSES when a probe gets any answer that is not outage-class (2xx, or 4xx/3xx).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from ops.observability.metrics import BreakerState

T = TypeVar("T")


class CircuitBreaker(Generic[T]):
    """Tracks the streak of outage-class failures; single-threaded (the dispatch loop owns it)."""

    def __init__(self, threshold: int = 5) -> None:
        if threshold < 1:
            raise ValueError("threshold must be >= 1")
        self._threshold = threshold
        self._streak: deque[tuple[T, str, bool]] = deque(maxlen=threshold)
        self.is_open = False
        self.times_opened = 0

    def record_success(self) -> None:
        """An attempt was answered with 2xx (or any non-outage answer): reset, and close."""
        self._streak.clear()
        self.is_open = False

    def record_outage(self, item: T, contact: str, connection_error: bool) -> list[T] | None:
        """Count one outage-class failure; return the streak's items if this opened the breaker."""
        self._streak.append((item, contact, connection_error))
        if self.is_open or len(self._streak) < self._threshold:
            return None
        contacts = {c for _, c, _ in self._streak}
        all_refused = all(refused for _, _, refused in self._streak)
        if len(contacts) < 2 and not all_refused:
            return None
        self.is_open = True
        self.times_opened += 1
        items = [i for i, _, _ in self._streak]
        self._streak.clear()
        return items


class ProbeSchedule:
    """While the breaker is open: when the next single probe may go, and the breaker's state.

    States as reported to `report`: `open` (no probe in flight), `half_open` (a probe is in
    flight), `closed` (a probe or any attempt got a non-outage answer).
    """

    def __init__(
        self,
        probe_delay: Callable[[int, float | None], float],
        report: Callable[[BreakerState], None],
    ) -> None:
        self._probe_delay = probe_delay
        self._report = report
        self.in_flight = False
        self.next_at = 0.0
        self._failures = 0

    def opened(self, now: float) -> None:
        """The breaker just opened: the first probe goes after the base delay."""
        self._failures = 0
        self.next_at = now + self._probe_delay(0, None)
        self._report("open")

    def due(self, now: float) -> bool:
        """True when a probe may be sent now."""
        return not self.in_flight and now >= self.next_at

    def started(self) -> None:
        """A probe was sent."""
        self.in_flight = True
        self._report("half_open")

    def returned(self, probe: bool) -> None:
        """An attempt came back (the probe, if `probe`)."""
        self.in_flight = self.in_flight and not probe

    def failed(self, now: float, retry_after_s: float | None) -> None:
        """The probe met the outage again: back off before the next one."""
        self._failures += 1
        self.next_at = now + self._probe_delay(self._failures, retry_after_s)
        self._report("open")

    def closed(self) -> None:
        """The endpoint answers again."""
        self._report("closed")
