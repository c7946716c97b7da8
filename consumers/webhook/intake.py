"""Bound what the relay takes from Kafka: batch sizes, holds and pauses (loop thread only).

The relay's buffer (consumed, unfinished events) is bounded in events and in payload bytes.
Batches are sized to the room left, so the buffer exceeds a limit by about one event. Above a
limit, intake is held (no more `consume`) until the buffer is below half of both limits. A short
hold keeps librdkafka's bounded prefetch, which interleaves the partitions; pausing drops it and
refetches the partitions in order, so under a long backlog the first partitions always went
first (one waited most of a 1M-event drain). A hold longer than `hold_before_pause_s` pauses the
partitions, so that `consume` keeps being called (max.poll.interval.ms, rebalance callbacks).
"""

from __future__ import annotations

from collections.abc import Callable

from consumers.webhook.observer import RelayObserver
from consumers.webhook.partitions import PartitionGate
from consumers.webhook.scheduler import ContactScheduler
from consumers.webhook.settings import RelaySettings, RelayStats


class IntakeGovernor:
    """Decides how many messages the relay may take, and when it holds or pauses."""

    def __init__(
        self,
        settings: RelaySettings,
        scheduler: ContactScheduler,
        stats: RelayStats,
        observer: RelayObserver,
        clock: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._scheduler = scheduler
        self._stats = stats
        self._observer = observer
        self._clock = clock
        self._mean_size = 0.0
        self._held_since: float | None = None

    def note_size(self, size: int) -> None:
        """Take one consumed message's payload size into the moving mean (~ the last 20)."""
        self._mean_size = size if self._mean_size == 0 else 0.95 * self._mean_size + 0.05 * size

    def may_consume(self, gate: PartitionGate) -> bool:
        """False while intake is held (paused partitions are still polled: they give nothing)."""
        return self._held_since is None or gate.paused

    def batch_size(self) -> int:
        """How many messages to take now: a full batch, or only what still fits the limits."""
        size = self._settings.poll_batch
        size = min(size, max(1, self._settings.max_buffered - len(self._scheduler)))
        if self._mean_size > 0:
            room = self._settings.max_buffered_bytes - self._scheduler.buffered_bytes
            size = min(size, max(1, int(room // self._mean_size)))
        return size

    def update(self, gate: PartitionGate, breaker_open: bool) -> None:
        """Hold, pause or release intake after the buffer changed (and follow the breaker)."""
        buffered, limit = len(self._scheduler), self._settings.max_buffered
        size, size_limit = self._scheduler.buffered_bytes, self._settings.max_buffered_bytes
        # Hysteresis: hold above either limit, take again once below half of both.
        overloaded = buffered > limit or size > size_limit
        if self._held_since is not None:
            overloaded = overloaded or buffered > limit // 2 or size > size_limit // 2
        now = self._clock()
        if overloaded and self._held_since is None:
            self._held_since = now
            self._stats.backpressure_pauses += 1
            self._observer.retry("backpressure")
        elif not overloaded:
            self._held_since = None
        stats = self._stats
        stats.max_buffered_seen = max(stats.max_buffered_seen, buffered)
        stats.max_buffered_bytes_seen = max(stats.max_buffered_bytes_seen, size)
        held_long = self._held_since is not None and (
            now - self._held_since >= self._settings.hold_before_pause_s
        )
        gate.set_paused(breaker_open or held_long)
        self._observer.paused(gate.paused or self._held_since is not None)
