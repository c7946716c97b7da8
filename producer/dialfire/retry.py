"""Retry policy for Dialfire calls: exponential backoff with full jitter, Retry-After honoured."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Statuses worth another attempt: rate limiting and server-side trouble. Any other 4xx is a bug on
# our side (or a revoked token) and would fail identically again.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before retrying one request.

    Defaults: 6 attempts, delays drawn from [0, min(30 s, 0.5 s * 2^n)], so a request gives up after
    roughly a minute in the worst case instead of the original's ~17 minutes (W6/W7). A server's
    Retry-After is honoured up to `retry_after_cap`, so a hostile or broken header cannot stall a
    poll cycle for hours.
    """

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_after_cap: float = 60.0
    rng: Callable[[float, float], float] = field(default=random.uniform, repr=False)

    def backoff(self, failed_attempts: int) -> float:
        """Return the full-jitter delay after `failed_attempts` (1, 2, ...) failures."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (failed_attempts - 1)))
        return self.rng(0.0, ceiling)

    def delay(self, failed_attempts: int, retry_after: str | None) -> float:
        """Return the wait before the next attempt: Retry-After (capped) if given, else backoff."""
        parsed = parse_retry_after(retry_after, datetime.now(UTC))
        if parsed is not None:
            return min(parsed, self.retry_after_cap)
        return self.backoff(failed_attempts)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Return seconds from a Retry-After header (delta-seconds or HTTP date), None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
