"""A local webhook endpoint that records deliveries by idempotency id and can fail or hang."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    """What the receiver saw for one idempotency id."""

    attempts: int = 0
    accepted: int = 0
    first_accepted_at: float | None = None  # wall clock, seconds
    fired: str | None = None
    contact_id: str | None = None


@dataclass
class _State:
    mode: str = "ok"  # ok | fail | hang
    hang_seconds: float = 5.0
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    answers: Counter[str] = field(default_factory=Counter)


class ChaosReceiver:
    """Serve POSTs on 127.0.0.1; `fail()` answers 500, `hang()` stalls past the client's timeout."""

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._state = _State()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet."""

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                key = self.headers.get("Idempotency-Key", "")
                status = receiver._record(key, body)
                if status == 0:
                    self.close_connection = True
                    return
                reply = b'{"ok":true}' if status == 200 else b'{"error":"chaos"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The URL to point the relay at."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> ChaosReceiver:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        with contextlib.suppress(Exception):
            self._server.shutdown()
        self._server.server_close()

    def set_mode(self, mode: str, hang_seconds: float = 5.0) -> None:
        """`ok`, `fail` (HTTP 500) or `hang` (no answer for `hang_seconds`, then hang up)."""
        if mode not in ("ok", "fail", "hang"):
            raise ValueError(f"unknown receiver mode {mode!r}")
        with self._lock:
            self._state.mode = mode
            self._state.hang_seconds = hang_seconds

    def _record(self, key: str, body: bytes) -> int:
        with self._lock:
            mode, hang = self._state.mode, self._state.hang_seconds
            entry = self._state.deliveries.setdefault(key, Delivery())
            entry.attempts += 1
        if mode == "hang":
            time.sleep(hang)
            with self._lock:
                self._state.answers["hung"] += 1
            return 0
        if mode == "fail":
            with self._lock:
                self._state.answers["500"] += 1
            return 500
        fired, contact = _describe(body)
        with self._lock:
            entry.accepted += 1
            if entry.first_accepted_at is None:
                entry.first_accepted_at = time.time()
                entry.fired, entry.contact_id = fired, contact
            self._state.answers["200"] += 1
        return 200

    def deliveries(self) -> dict[str, Delivery]:
        """A copy of every idempotency id's record."""
        with self._lock:
            return {key: Delivery(**vars(value)) for key, value in self._state.deliveries.items()}

    def answers(self) -> dict[str, int]:
        """How many requests got each answer (200, 500, hung)."""
        with self._lock:
            return dict(self._state.answers)


def _describe(body: bytes) -> tuple[str | None, str | None]:
    try:
        payload = json.loads(body)
        fired = payload["transaction"].get("fired")
        contact = payload["contact"].get("$id")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None
    return (str(fired) if fired is not None else None), (str(contact) if contact else None)
