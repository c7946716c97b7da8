"""Retry one action after RetryableError or Backpressure, with the group's RetryPolicy.

Other exceptions (InvalidEvent, bugs) pass straight through. Waiting is delegated to the
caller's `wait(seconds)`, which keeps serving the Kafka group while the partitions are paused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from consumers.runtime.group import RetryPolicy
from consumers.runtime.outcomes import Backpressure, RetryableError

log = logging.getLogger(__name__)
T = TypeVar("T")


class RetriesExhausted(Exception):
    """A batch kept failing with RetryableError past `RetryPolicy.max_attempts`: stop the group."""


def run_with_retries(
    action: Callable[[], T],
    policy: RetryPolicy,
    before_wait: Callable[[str], None],
    wait: Callable[[float], None],
) -> T:
    """Call `action` until it succeeds; `before_wait(reason)` runs before every wait."""
    attempt = 0
    error: Exception
    while True:
        try:
            return action()
        except RetryableError as exc:
            attempt += 1
            delay, reason, error = policy.delay(attempt), "retryable", exc
        except Backpressure as exc:
            attempt += 1
            delay = min(max(exc.retry_after, 0.0), policy.max_retry_after)
            reason, error = "backpressure", exc
        if policy.max_attempts is not None and attempt >= policy.max_attempts:
            raise RetriesExhausted(f"gave up after {attempt} attempts: {error}") from error
        log.warning("%s (attempt %d); retrying in %.1f s", error, attempt, delay)
        before_wait(reason)
        wait(delay)
