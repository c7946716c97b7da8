"""The clock seam: wall time, monotonic time and sleeping, so tests can control time."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What the producer needs to know about time."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Return seconds from a monotonic source (for durations only)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for `seconds`."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Return `time.monotonic()`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep with `time.sleep`."""
        time.sleep(max(0.0, seconds))


def to_micros(moment: datetime) -> int:
    """Return microseconds since the epoch of an aware datetime."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """Return the aware UTC datetime of microseconds since the epoch."""
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


def format_query_time(moment: datetime) -> str:
    """Render a `from`/`to` value as the original does: `2006-01-02T15:04:05.999`, UTC, no Z."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    millis = utc.microsecond // 1000
    if millis:
        text += f".{millis:03d}".rstrip("0")
    return text


def truncate_to_millis(moment: datetime) -> datetime:
    """Return `moment` in UTC with sub-millisecond digits dropped (the `observed_at` precision)."""
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond - utc.microsecond % 1000)
