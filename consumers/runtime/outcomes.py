"""The three failure kinds a sink can report, and what the runtime does with each.

- RetryableError: an outage (database down, receiver unreachable, broker unavailable). The runtime
  pauses, keeps its place and retries with backoff; it never dead-letters because of it.
- Backpressure: the sink asks to slow down (HTTP 429/503 with Retry-After). Retry after the delay.
- InvalidEvent: this event can never succeed (undecodable bytes, a value the database rejects, a
  receiver that keeps refusing it). After its retries it goes to the group's dead-letter topic
  with its original coordinates and the reason, and the group moves on.
"""

from __future__ import annotations


class RetryableError(Exception):
    """A transient outage: pause, retry with backoff, never dead-letter."""


class Backpressure(Exception):
    """The sink is overloaded; retry no sooner than `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidEvent(Exception):
    """An event that fails deterministically; dead-letter it with `reason`."""

    def __init__(self, reason: str, *, error_class: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_class = error_class or type(self).__name__


class DeadLetterLimitExceeded(Exception):
    """Too many dead letters in a row: stop the group instead of draining the topic."""
