"""A real, configurable webhook receiver on 127.0.0.1 that records every request it gets.

Rules: fail the first N requests of each event, always answer a status for one contact, add
random latency, or go down (connection refused; open connections are cut) for a period. Every
request is recorded with its headers, body, status and time; all methods are thread-safe.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the receiver saw it, and what it answered."""

    seq: int
    wall_time: float
    monotonic: float
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def contact_id(self) -> str:
        try:
            return str(self.payload["contact"]["$id"])
        except (ValueError, KeyError, TypeError):
            return ""

    @property
    def event_id(self) -> str:
        return self.headers.get("idempotency-key", "")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class _Rules:
    fail_first: int = 0
    fail_first_status: int = 500
    always: dict[str, int] = field(default_factory=dict)
    latency: tuple[float, float] = (0.0, 0.0)
    body: str = "receiver says no"
    retry_after: str | None = None


class WebhookReceiver:
    """Start with `start()`, point the relay at `url`, inspect `requests()`; `stop()` at the end."""

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules = _Rules()
        self._records: list[ReceivedRequest] = []
        self._attempts: Counter[str] = Counter()
        self._connections: set[socket.socket] = set()
        self._down = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = port
        self._up_timer: threading.Timer | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> WebhookReceiver:
        server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler_class())
        server.daemon_threads = True
        server.block_on_close = False
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._up_timer is not None:
            self._up_timer.cancel()
        with self._lock:
            self._down = True
        self._close_server()

    def _close_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/hook?token=receiver-query-secret"

    @property
    def port(self) -> int:
        return self._port

    def go_down(self) -> None:
        """Refuse connections (listening socket closed) and cut open ones."""
        with self._lock:
            self._down = True
        self._close_server()

    def come_up(self) -> None:
        with self._lock:
            self._down = False
        self.start()

    def down_for(self, seconds: float) -> None:
        """Go down now and come back up by itself after `seconds`."""
        self.go_down()
        self._up_timer = threading.Timer(seconds, self.come_up)
        self._up_timer.daemon = True
        self._up_timer.start()

    # --- rules ------------------------------------------------------------------------------

    def fail_first(self, n: int, status: int = 500) -> None:
        """Answer `status` to the first `n` requests of every event (by idempotency key)."""
        with self._lock:
            self._rules.fail_first, self._rules.fail_first_status = n, status

    def always(self, contact_id: str, status: int) -> None:
        """Always answer `status` for one contact."""
        with self._lock:
            self._rules.always[contact_id] = status

    def clear_rules(self) -> None:
        with self._lock:
            latency = self._rules.latency
            self._rules = _Rules(latency=latency)

    def set_latency(self, low_s: float, high_s: float | None = None) -> None:
        with self._lock:
            self._rules.latency = (low_s, low_s if high_s is None else high_s)

    def set_failure_body(self, body: str, retry_after: str | None = None) -> None:
        with self._lock:
            self._rules.body, self._rules.retry_after = body, retry_after

    # --- records ----------------------------------------------------------------------------

    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._records)

    def delivered(self) -> list[ReceivedRequest]:
        return [r for r in self.requests() if r.ok]

    def delivered_event_ids(self) -> set[str]:
        return {r.event_id for r in self.delivered()}

    # --- serving ----------------------------------------------------------------------------

    def _decide(self, headers: dict[str, str], body: bytes) -> tuple[int, float, str, str | None]:
        with self._lock:
            rules = self._rules
            event_id = headers.get("idempotency-key", "")
            self._attempts[event_id] += 1
            attempt = self._attempts[event_id]
            low, high = rules.latency
            delay = random.uniform(low, high) if high > 0 else 0.0
        try:
            contact = str(json.loads(body)["contact"]["$id"])
        except (ValueError, KeyError, TypeError):
            contact = ""
        if contact in rules.always:
            return rules.always[contact], delay, rules.body, rules.retry_after
        if attempt <= rules.fail_first:
            return rules.fail_first_status, delay, rules.body, rules.retry_after
        return 200, delay, "", None

    def _record(self, handler: BaseHTTPRequestHandler, body: bytes, status: int) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self._records.append(
                ReceivedRequest(
                    len(self._records),
                    time.time(),
                    time.monotonic(),
                    handler.command,
                    handler.path,
                    headers,
                    body,
                    status,
                )
            )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real web service

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-request (a SIGKILL test): no delivery happened, and a
                    # real web service would see a broken request, not an event.
                    self.close_connection = True
                    return
                with receiver._lock:
                    down = receiver._down
                if down:  # cut the connection without an answer
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, delay, text, retry_after = receiver._decide(headers, body)
                if delay:
                    time.sleep(delay)  # simulated processing time of the web service
                receiver._record(self, body, status)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
