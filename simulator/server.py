"""Serve the simulated campaign over HTTP: routing, auth, fault injection and ``/_sim`` controls."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulator import api
from simulator.activity import ActivityGenerator
from simulator.campaign import Campaign
from simulator.faults import FaultConfig, FaultInjector, malform_body

_API_ROUTES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("GET", "E1", re.compile(r"^/api/campaigns/([^/]+)/fields/list/?$")),
    ("GET", "E2", re.compile(r"^/api/campaigns/([^/]+)/contacts/list/?$")),
    ("POST", "E3", re.compile(r"^/api/campaigns/([^/]+)/contacts/?$")),
    ("GET", "E4", re.compile(r"^/api/campaigns/([^/]+)/contacts/transactions/?$")),
    ("GET", "E5", re.compile(r"^/api/campaigns/([^/]+)/inbound/calls/?$")),
)
_SIM_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/_sim/truth"): "sim_truth",
    ("GET", "/_sim/stats"): "sim_stats",
    ("GET", "/_sim/faults"): "sim_faults",
    ("POST", "/_sim/faults"): "sim_faults",
    ("POST", "/_sim/activity"): "sim_activity",
}


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    sim: SimulatorServer


class SimulatorServer:
    """A Dialfire-compatible HTTP server running in a background thread."""

    def __init__(
        self,
        campaign: Campaign,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = "",
        forbidden_token: str = "",
        faults: FaultConfig | None = None,
        activity: ActivityGenerator | None = None,
        fired_suffix: bool = True,
    ) -> None:
        if not token:
            raise ValueError("a token is required")
        self.campaign = campaign
        self.host = host
        self.port = port
        self.token = token
        self.forbidden_token = forbidden_token
        self.faults = FaultInjector(faults)
        self.activity = activity or ActivityGenerator(campaign)
        self.fired_suffix = fired_suffix
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (valid after :meth:`start`)."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SimulatorServer:
        """Bind, serve in a daemon thread and start live activity if its rate is positive."""
        httpd = _HttpServer((self.host, self.port), _Handler)
        httpd.sim = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="sim-http", daemon=True
        )
        self._thread.start()
        self.activity.start()
        return self

    def stop(self) -> None:
        """Stop activity and the HTTP server; release the port."""
        self.activity.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes; avoid 40 ms stalls
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; statistics are available at ``/_sim/stats``."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        sim = self.server.sim
        parts = urlsplit(self.path)
        params = {key: values[-1] for key, values in parse_qs(parts.query, True).items()}
        body = self._read_body()
        sim_endpoint = _SIM_ROUTES.get((method, parts.path.rstrip("/")))
        if sim_endpoint is not None:
            sim.faults.count_request(sim_endpoint)
            if self._authorized(sim, sim_endpoint, inject=False):
                self._answer_sim(sim, sim_endpoint, params, body)
            return
        for route_method, endpoint, pattern in _API_ROUTES:
            match = pattern.match(parts.path)
            if match and route_method == method:
                sim.faults.count_request(endpoint)
                self._answer_api(sim, endpoint, match.group(1), params, body)
                return
        self._send_json(404, {"error": f"no route for {method} {parts.path}"})

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _authorized(self, sim: SimulatorServer, endpoint: str, inject: bool) -> bool:
        header = self.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else None
        if inject and sim.forbidden_token and token == sim.forbidden_token:
            sim.faults.count_fault("http_403")
            self._send_json(403, {"error": "forbidden"})
            return False
        if token != sim.token:
            sim.faults.count_fault("http_401")
            self._send_json(401, {"error": "unauthorized"})
            return False
        return True

    def _answer_api(
        self, sim: SimulatorServer, endpoint: str, cid: str, params: dict[str, str], body: bytes
    ) -> None:
        if not self._authorized(sim, endpoint, inject=True):
            return
        if cid != sim.campaign.campaign_id:
            self._send_json(403, {"error": f"token not valid for campaign {cid}"})
            return
        decision = sim.faults.decide(endpoint)
        if decision.latency_ms:
            time.sleep(decision.latency_ms / 1000)
        if decision.status == 429:
            headers = {"Retry-After": str(decision.retry_after_s)}
            self._send_json(429, {"error": "rate limited"}, headers)
            return
        if decision.status:
            self._send_json(decision.status, {"error": "injected failure"})
            return
        handlers: dict[str, Callable[[], object]] = {
            "E1": lambda: api.list_fields(sim.campaign),
            "E2": lambda: api.list_contacts(sim.campaign, params),
            "E3": lambda: api.fetch_contacts(
                sim.campaign, body, params.get("include_md5", "").lower() == "true"
            ),
            "E4": lambda: api.list_transactions(sim.campaign, params, sim.fired_suffix),
            "E5": lambda: api.list_inbound_calls(sim.campaign, params),
        }
        try:
            with sim.campaign.lock:
                raw = _dump(handlers[endpoint]())
        except api.BadRequestError as exc:
            self._send_json(400, {"error": str(exc)})
            return
        if decision.malformed:
            raw = malform_body(decision.malformed, endpoint, raw)
        self._send_raw(200, raw)

    def _answer_sim(
        self, sim: SimulatorServer, endpoint: str, params: dict[str, str], body: bytes
    ) -> None:
        try:
            if endpoint == "sim_truth":
                with sim.campaign.lock:
                    raw = _dump(sim.campaign.build_truth())
                self._send_raw(200, raw)
            elif endpoint == "sim_stats":
                self._send_json(200, sim.faults.snapshot_stats())
            elif endpoint == "sim_faults" and self.command == "GET":
                self._send_json(200, sim.faults.config.to_dict())
            elif endpoint == "sim_faults":
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("body must be a JSON object")
                if "forbidden_token" in changes:
                    sim.forbidden_token = str(changes.pop("forbidden_token") or "")
                self._send_json(200, sim.faults.configure(changes).to_dict())
            else:
                count = int(params.get("n", "1"))
                if not 0 <= count <= 100_000:
                    raise ValueError("n must be within 0..100000")
                self._send_json(200, {"applied": sim.activity.apply_changes(count)})
        except (ValueError, TypeError) as exc:
            self._send_json(400, {"error": str(exc)})

    def _send_json(
        self, status: int, payload: object, headers: dict[str, str] | None = None
    ) -> None:
        self._send_raw(status, _dump(payload), headers)

    def _send_raw(self, status: int, raw: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)


def _dump(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
