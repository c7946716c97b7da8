"""Limit the request rate to one endpoint with a token bucket (the original's --wr / --wb)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; one token per request.

    Single-threaded: only the relay's dispatch loop takes tokens.
    """

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._updated = clock()

    def try_acquire(self) -> float:
        """Take a token and return 0.0, or take nothing and return the seconds until one exists."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        wait = (1.0 - self._tokens) / self._rate
        return wait if math.isfinite(wait) else 0.0
