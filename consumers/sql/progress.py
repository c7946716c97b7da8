"""Track how far this instance has applied each partition, and whether it has caught up.

Positions are the next offsets committed to the database (written by the writer thread right
after its commit); lag compares them with the partitions' end offsets, read without stalling the
loop (`read_watermarks`: cached, the broker only for paused partitions).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from consumers.runtime.lag_tracker import read_watermarks

log = logging.getLogger(__name__)

# How often lag is measured from the partitions' end offsets (caught-up detection).
LAG_CHECK_SECONDS = 1.0
OFFSET_BEGINNING = -2


class PartitionProgress:
    """Positions and lag per partition of one topic; thread-safe views."""

    def __init__(self, topic: str, make_partition: Callable[..., Any]) -> None:
        self._topic = topic
        self._make_partition = make_partition
        self._positions: dict[int, int] = {}
        self._lag: dict[int, int] = {}
        self._checked = 0.0
        self._lock = threading.Lock()
        self.caught_up = threading.Event()

    def positions(self) -> dict[int, int]:
        """Return the next offset committed to the database per partition."""
        with self._lock:
            return dict(self._positions)

    def lag(self) -> dict[int, int]:
        """Return the last measured lag per assigned partition."""
        with self._lock:
            return dict(self._lag)

    def advance(self, nexts: Mapping[int, int]) -> None:
        """Record next offsets just committed to the database (any thread)."""
        with self._lock:
            self._positions.update(nexts)

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop the lag of revoked partitions."""
        with self._lock:
            for partition in partitions:
                self._lag.pop(partition, None)

    def measure(self, consumer: Any, assigned: set[int], paused: bool) -> None:
        """Measure lag (at most once per LAG_CHECK_SECONDS); set `caught_up` when all are 0."""
        now = time.monotonic()
        if now - self._checked < LAG_CHECK_SECONDS or not assigned:
            return
        self._checked = now
        lag: dict[int, int] = {}
        for p in sorted(assigned):
            partition = self._make_partition(self._topic, p, OFFSET_BEGINNING)
            try:
                low, high = read_watermarks(consumer, partition, paused, timeout=5)
            except Exception as exc:
                log.info("cannot measure lag: %s", exc)
                return
            low = max(low, 0)  # the cache may not know the log start yet
            with self._lock:
                position = self._positions.get(p, low)
            lag[p] = max(0, high - max(position, low))
        with self._lock:
            self._lag = lag
        if lag and all(v == 0 for v in lag.values()):
            self.caught_up.set()
