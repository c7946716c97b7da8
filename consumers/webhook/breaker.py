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
from typing import Generic, TypeVar

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
