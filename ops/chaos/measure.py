"""Small measuring helpers shared by the soak and the benches: percentiles, machine, timestamps."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def percentiles(values: list[float]) -> dict[str, float | int]:
    """p50/p90/p99/max (nearest rank) and the count, rounded to 0.1."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]

    return {"n": len(ordered), "p50": round(rank(0.50), 1), "p90": round(rank(0.90), 1),
            "p99": round(rank(0.99), 1), "max": round(ordered[-1], 1)}  # fmt: skip


def machine() -> dict[str, Any]:
    """Cores and memory (from /proc) and the OS/Python, for every published figure."""
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": model,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def epoch_seconds(value: Any) -> float | None:
    """A Dialfire timestamp (text `YYYY-MM-DDTHH:MM:SS.mmmZ`, or a naive UTC datetime)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.timestamp()
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace(" ", "T").rstrip("Z")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
