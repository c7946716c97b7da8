"""The clock seam of the consumer runtime: monotonic time for durations, wall time for lag."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the runtime needs to know about time (waiting is done by polling Kafka)."""

    def monotonic(self) -> float:
        """Return seconds from a monotonic source (durations, deadlines)."""
        ...

    def time(self) -> float:
        """Return the Unix time in seconds (compared with Kafka message timestamps)."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """Return `time.monotonic()`."""
        return time.monotonic()

    def time(self) -> float:
        """Return `time.time()`."""
        return time.time()
