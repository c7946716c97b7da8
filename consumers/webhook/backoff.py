"""Compute retry and probe delays: exponential backoff with jitter, honouring Retry-After."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    """Delays between attempts of one event, and between circuit-breaker probes.

    Retry n (n >= 1 failed attempts) waits uniform(0, min(max_s, base_s * 2**(n-1))) ("full
    jitter": retries of many events spread out instead of arriving together), but never less
    than a Retry-After the receiver sent, which is itself capped at `retry_after_cap_s` so a
    receiver cannot park an event for days. Probes use "equal jitter" (at least half the
    exponential delay) so an open breaker never hammers a dead endpoint.
    """

    base_s: float = 1.0
    max_s: float = 300.0
    retry_after_cap_s: float = 300.0
    probe_base_s: float = 1.0
    probe_max_s: float = 30.0
    uniform: Callable[[float, float], float] = field(default=random.uniform)

    def retry_delay(self, failed_attempts: int, retry_after_s: float | None = None) -> float:
        """Return the wait before the next attempt after `failed_attempts` failures."""
        ceiling = min(self.max_s, self.base_s * 2.0 ** max(failed_attempts - 1, 0))
        delay = self.uniform(0.0, ceiling)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.retry_after_cap_s))
        return delay

    def probe_delay(self, failed_probes: int, retry_after_s: float | None = None) -> float:
        """Return the wait before the next probe after `failed_probes` failed probes."""
        ceiling = min(self.probe_max_s, self.probe_base_s * 2.0 ** max(failed_probes, 0))
        delay = ceiling / 2 + self.uniform(0.0, ceiling / 2)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.retry_after_cap_s))
        return delay
