"""A tiny local HTTP server that answers from a script and records every request it got."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One scripted answer: a status, JSON (or raw bytes), headers; `drop` closes the socket."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    hold: threading.Event | None = None  # wait for this before answering (a stalled server)


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    raw_query: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]


class ScriptedServer:
    """Serves `Reply`s in order (the last one repeats) on 127.0.0.1 and an ephemeral port."""

    def __init__(self, *replies: Reply) -> None:
        self.replies: deque[Reply] = deque(replies)
        self.seen: list[Seen] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._answer(self, "GET")

            def do_POST(self) -> None:
                outer._answer(self, "POST")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for reply in self.replies:
            if reply.hold is not None:
                reply.hold.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.seen.append(
            Seen(method, parts.path, parts.query, query, body, dict(handler.headers.items()))
        )
        reply = self.replies.popleft() if len(self.replies) > 1 else self.replies[0]
        if reply.hold is not None:
            reply.hold.wait(10)
        if reply.drop:
            handler.close_connection = True
            handler.connection.close()
            return
        raw = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(raw)
