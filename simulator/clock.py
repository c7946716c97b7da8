"""Convert between epoch milliseconds and the timestamp strings the Dialfire API uses."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

_QUERY_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?)?Z?$")


def format_ts(epoch_ms: int) -> str:
    """Render epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC)."""
    seconds, millis = divmod(epoch_ms, 1000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


def format_query_ts(epoch_ms: int) -> str:
    """Render epoch ms as the client sends it: ``2006-01-02T15:04:05.999`` (ms trimmed, no Z)."""
    seconds, millis = divmod(epoch_ms, 1000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    text = f"{moment:%Y-%m-%dT%H:%M:%S}"
    if millis:
        text += f".{millis:03d}".rstrip("0")
    return text


def parse_query_ts(text: str) -> int:
    """Parse a ``from``/``to`` query value (with or without ms, trailing Z, or date only)."""
    match = _QUERY_TS.match(text.strip())
    if match is None:
        raise ValueError(f"invalid timestamp {text!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        tzinfo=UTC,
    )
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    return int(moment.timestamp()) * 1000 + millis


def parse_ts(text: str) -> int:
    """Parse a payload timestamp (``YYYY-MM-DDTHH:MM:SS.mmmZ``) to epoch milliseconds."""
    return parse_query_ts(text)


def now_ms() -> int:
    """Return the current wall-clock time in epoch milliseconds."""
    return time.time_ns() // 1_000_000
