"""Serve /metrics, /healthz and /readyz over HTTP on a configurable port, in a daemon thread.

`/healthz` answers 200 while the process runs (liveness: restart me if this fails).
`/readyz` answers 200 only when every readiness check passes, else 503 with the failing checks
as JSON (typical checks: partitions assigned, sink reachable, not paused). `/metrics` is the
Prometheus text exposition of the given registry.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], bool]


class Readiness:
    """Named readiness checks: callables evaluated per request, and flags set by the service."""

    def __init__(self) -> None:
        self._checks: dict[str, ReadinessCheck] = {}
        self._flags: dict[str, bool] = {}
        self._lock = threading.Lock()

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        """Register a callable evaluated on every /readyz request (an exception means failing)."""
        with self._lock:
            self._checks[name] = check

    def set_flag(self, name: str, ok: bool) -> None:
        """Set a readiness flag the service updates itself (e.g. "not_paused")."""
        with self._lock:
            self._flags[name] = ok

    def evaluate(self) -> dict[str, bool]:
        """Return every check's and flag's current result."""
        with self._lock:
            checks = dict(self._checks)
            results = dict(self._flags)
        for name, check in checks.items():
            try:
                results[name] = bool(check())
            except Exception as exc:  # a failing probe means "not ready", never a crash
                log.debug("readiness check %s raised %s", name, exc)
                results[name] = False
        return results

    def is_ready(self) -> bool:
        """Return True when every check and flag passes (and at least one exists)."""
        results = self.evaluate()
        return bool(results) and all(results.values())


class HealthServer:
    """A tiny HTTP server for /metrics, /healthz and /readyz; `port=0` picks a free port."""

    def __init__(
        self,
        registry: CollectorRegistry,
        readiness: Readiness,
        port: int,
        host: str = "127.0.0.1",
    ) -> None:
        self._registry = registry
        self._readiness = readiness
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server is bound to."""
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        """Serve in a daemon thread; return self."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="dbsync2-health", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        registry, readiness = self._registry, self._readiness

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
                elif path in ("/healthz", "/livez"):
                    self._send(200, "text/plain; charset=utf-8", b"ok\n")
                elif path == "/readyz":
                    results = readiness.evaluate()
                    ready = bool(results) and all(results.values())
                    body = json.dumps({"ready": ready, "checks": results}).encode()
                    self._send(200 if ready else 503, "application/json", body)
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found\n")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("health %s", format % args)

        return Handler
