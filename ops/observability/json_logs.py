"""Format log records as one JSON object per line, carrying Kafka coordinates and event ids.

Pass the coordinates through `extra`: `log.warning("dead-lettered", extra={"topic": t,
"partition": p, "offset": o, "contact_id": c, "event_id": e})`. Fields that are absent are left
out rather than written as null, so log queries stay simple.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final, TextIO

CONTEXT_FIELDS: Final = (
    "service",
    "campaign",
    "group",
    "topic",
    "partition",
    "offset",
    "contact_id",
    "event_id",
    "attempt",
    "error_class",
)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: time (UTC ISO-8601), level, logger, message, context fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        out: dict[str, Any] = {
            "time": stamp,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(
    json_format: bool, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """Configure the root logger once: JSON lines when `json_format`, else a plain text line."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if json_format:
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
