"""Decide, deterministically from a seed, which API requests get errors, 429s, delay or bad JSON."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from simulator.unknown_fields import add_unknown_fields

# The modes a malformed answer gets by default: each makes the answer invalid, so the client
# must fail the request. `unknown_fields` (extra keys a client must carry or ignore) is only
# served when asked for by name, since a valid answer with extra keys changes what is synced.
DEFAULT_MALFORMED_MODES: tuple[str, ...] = ("truncated", "wrong_types", "missing_task_log")
MALFORMED_MODES: tuple[str, ...] = (*DEFAULT_MALFORMED_MODES, "unknown_fields")
ERROR_STATUSES: tuple[int, ...] = (500, 502, 503)


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Fault knobs. Rates are probabilities per API request; ``/_sim/*`` is never affected.

    A 429 burst hits ``burst_429`` consecutive API requests out of every ``burst_429_every``
    (the first burst starts with the first request).
    """

    error_rate: float = 0.0
    burst_429: int = 0
    burst_429_every: int = 20
    retry_after_s: int = 1
    latency_ms: int = 0
    malformed_rate: float = 0.0
    malformed_modes: tuple[str, ...] = DEFAULT_MALFORMED_MODES
    seed: int = 0

    def updated(self, changes: dict[str, Any]) -> FaultConfig:
        """Return a copy with ``changes`` applied; unknown keys or bad values raise ValueError."""
        known = {item.name: item for item in fields(self)}
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown fault knob {key!r}")
            if key == "malformed_modes":
                modes = tuple(str(mode) for mode in value)
                if not set(modes) <= set(MALFORMED_MODES):
                    raise ValueError(f"malformed_modes must be a subset of {MALFORMED_MODES}")
                clean[key] = modes
            elif key in ("error_rate", "malformed_rate"):
                clean[key] = float(value)
                if not 0.0 <= clean[key] <= 1.0:
                    raise ValueError(f"{key} must be within 0..1")
            else:
                clean[key] = int(value)
                if clean[key] < 0:
                    raise ValueError(f"{key} must not be negative")
        return replace(self, **clean)

    def to_dict(self) -> dict[str, Any]:
        """Return the knobs as JSON-ready values."""
        data = asdict(self)
        data["malformed_modes"] = list(self.malformed_modes)
        return data


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do to one API request."""

    status: int = 0
    retry_after_s: int = 0
    latency_ms: int = 0
    malformed: str = ""


@dataclass(slots=True)
class _Counters:
    requests: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)


class FaultInjector:
    """Seeded fault source plus request/fault statistics; safe to share between threads."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._counters = _Counters()
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)
        self._api_requests = 0

    def configure(self, changes: dict[str, Any]) -> FaultConfig:
        """Apply knob changes and restart the seeded sequence from the beginning."""
        with self._lock:
            self.config = self.config.updated(changes)
            self._rng = random.Random(self.config.seed)
            self._api_requests = 0
            return self.config

    def count_request(self, endpoint: str) -> None:
        """Count one request to ``endpoint`` (e.g. ``E3`` or ``sim_truth``)."""
        with self._lock:
            self._counters.requests[endpoint] += 1

    def count_fault(self, kind: str) -> None:
        """Count one injected fault or refusal of ``kind``."""
        with self._lock:
            self._counters.faults[kind] += 1

    def decide(self, endpoint: str) -> FaultDecision:
        """Draw the fate of the next API request to ``endpoint``."""
        with self._lock:
            cfg = self.config
            index = self._api_requests
            self._api_requests += 1
            error_draw, malformed_draw = self._rng.random(), self._rng.random()
            status_pick, mode_pick = self._rng.randrange(3), self._rng.random()
            decision = FaultDecision(latency_ms=cfg.latency_ms)
            if cfg.latency_ms:
                self._counters.faults["latency"] += 1
            every = max(cfg.burst_429_every, 1)
            if cfg.burst_429 and index % every < cfg.burst_429:
                decision = replace(decision, status=429, retry_after_s=cfg.retry_after_s)
            elif error_draw < cfg.error_rate:
                decision = replace(decision, status=ERROR_STATUSES[status_pick])
            elif malformed_draw < cfg.malformed_rate:
                modes = [
                    m for m in cfg.malformed_modes if m != "missing_task_log" or endpoint == "E3"
                ]
                if modes:
                    decision = replace(decision, malformed=modes[int(mode_pick * len(modes))])
            if decision.status:
                self._counters.faults[f"http_{decision.status}"] += 1
            if decision.malformed:
                self._counters.faults[f"malformed_{decision.malformed}"] += 1
            return decision

    def snapshot_stats(self) -> dict[str, Any]:
        """Return request counts per endpoint, fault counts per kind and the current knobs."""
        with self._lock:
            return {
                "requests": dict(self._counters.requests),
                "faults": dict(self._counters.faults),
                "config": self.config.to_dict(),
            }


def malform_body(mode: str, endpoint: str, body: bytes) -> bytes:
    """Return a broken version of a JSON response body for a hostile-input test."""
    if mode == "truncated":
        return body[: max(1, len(body) // 2)]
    payload = json.loads(body)
    if mode == "missing_task_log":
        for contact in payload:
            contact.pop("$task_log", None)
    elif mode == "wrong_types":
        _break_types(endpoint, payload)
    elif mode == "unknown_fields":
        add_unknown_fields(endpoint, payload)
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _break_types(endpoint: str, payload: Any) -> None:
    """Put numbers where strings belong (and strings where numbers/booleans belong)."""
    if endpoint == "E1" and payload:
        payload[0]["name"] = 12345
    elif endpoint == "E3":
        for contact in payload:
            contact["$phone"] = 4930123456
            contact["$version"] = "seven"
            for entry in contact.get("$task_log", []):
                for tx in entry.get("transactions", []):
                    tx["fired"] = 1700000000
                    for conn in tx.get("connections", []):
                        conn["id"] = 987654321
    elif isinstance(payload, dict) and payload.get("results"):
        payload["count"] = "many"
        first = payload["results"][0]
        if endpoint == "E2":
            first["md5"] = 12345
        elif endpoint == "E4":
            payload["results"][0] = 12345
        elif endpoint == "E5":
            first["call_time"] = 1700000000
            first["dispatch_error"] = "false"
