"""A tiny webhook receiver for demos: answer every POST with 200 and append it to a JSON-lines file.

Run: `python -m ops.demo_receiver --port 8099 --log received.jsonl`. Each line holds the time,
path, the idempotency and signature headers and the JSON payload. Only for local demos: no TLS,
no authentication, binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

# Headers worth keeping in the demo log: they show idempotency and signing at work.
_KEPT_HEADERS = ("content-type", "idempotency-key", "webhook-id", "webhook-timestamp")
# A demo payload is one contact plus one transaction; 8 MiB stops a runaway client only.
MAX_BODY_BYTES = 8 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The relay keeps up to 32 requests in flight; the default backlog of 5 resets connections.
    request_queue_size = 128


class DemoReceiver:
    """Serves POST requests in a background thread and appends each one to `log_path`."""

    def __init__(self, log_path: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.log_path = log_path
        self._lock = threading.Lock()
        self._server = _Server((host, port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.received = 0

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> DemoReceiver:
        """Start serving."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        """Append one received request to the log file."""
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = body.decode("utf-8", errors="replace")
        line = {
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "path": path,
            "headers": {k: headers[k] for k in _KEPT_HEADERS if k in headers},
            "payload": payload,
        }
        with self._lock, self.log_path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(line, ensure_ascii=False) + "\n")
            self.received += 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self.send_error(413)
                    return
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.record(self.path, headers, body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                text = f"demo receiver: {receiver.received} POSTs logged to {receiver.log_path}\n"
                data = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return  # the JSON-lines file is the log

        return Handler


def build_parser() -> argparse.ArgumentParser:
    """Return the receiver's argument parser."""
    parser = argparse.ArgumentParser(prog="python -m ops.demo_receiver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface (0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--log", type=Path, default=Path("webhook-received.jsonl"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the receiver until SIGTERM/SIGINT."""
    args = build_parser().parse_args(argv)
    receiver = DemoReceiver(args.log.resolve(), args.host, args.port).start()
    print(f"demo receiver on http://{args.host}:{receiver.port}/ logging to {receiver.log_path}",
          flush=True)  # fmt: skip
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    done.wait()
    receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
