"""Benchmark the webhook relay against a 50 ms receiver: throughput vs sequential, p99 latency.

Not a test. Needs a real broker ($KAFKA_BOOTSTRAP_SERVERS or --bootstrap-servers). The receiver
runs in its own process (so it does not share the relay's GIL), sleeps `--latency-ms` per
request and checks per-contact order as requests arrive. Phases, each on a fresh campaign topic:
1. sequential: `--w 1` (the shape of the original's sender loop: one POST after another);
2. concurrent: `--w 64` (configurable);
3. sustained: events produced at half the concurrent rate; produce-to-delivery latency.
Rates are measured between the first and the last delivery (group join time excluded).
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumers.webhook.config import parse_config
from consumers.webhook.service import build_relay
from schemas import (
    CampaignId,
    ContactId,
    TransactionEvent,
    TransactionState,
    derive_event_id,
    derive_transaction_id,
    encode_event,
    message_key,
)
from schemas.events import split_transaction
from schemas.topics import dead_letter_topic, events_topic


def serve_receiver(port: int, latency_s: float) -> None:
    """Receiver process: sleep, record order violations and latencies, answer 200."""
    lock = threading.Lock()
    state: dict[str, Any] = {}

    def reset() -> None:
        state.update(count=0, violations=0, last={}, latencies=[], first=None, final=None)

    reset()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/reset":
                with lock:
                    reset()
                self._answer(b"{}")
                return
            time.sleep(latency_s)  # the simulated web service's processing time
            payload = json.loads(body)
            contact, seq = payload["contact"]["$id"], payload["transaction"]["sequence_nr"]
            now = time.time()
            with lock:
                if seq <= state["last"].get(contact, -1):
                    state["violations"] += 1
                state["last"][contact] = seq
                state["count"] += 1
                state["first"] = state["first"] or now
                state["final"] = now
                state["latencies"].append(now - payload["transaction"]["bench_produced_at"])
            self._answer(b"")

        def do_GET(self) -> None:
            with lock:
                data = {k: state[k] for k in ("count", "violations", "first", "final")}
                data["latencies"] = list(state["latencies"])
            self._answer(json.dumps(data).encode())

        def _answer(self, data: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


def fetch_stats(base: str, reset: bool = False) -> dict[str, Any]:
    """Return the receiver's counters (and reset them first if asked)."""
    # `base` is always the bench's own http://127.0.0.1 receiver.
    if reset:
        request = urllib.request.Request(base + "/reset", b"{}")  # noqa: S310
        urllib.request.urlopen(request, timeout=10).read()  # noqa: S310
    with urllib.request.urlopen(base + "/stats", timeout=10) as response:  # noqa: S310
        stats: dict[str, Any] = json.loads(response.read())
        return stats


def build_event(campaign: str, contact: str, seq: int) -> TransactionEvent:
    """A transaction of typical size (one connection with a recording)."""
    fired = datetime.now(UTC).isoformat()
    raw = {
        "fired": fired, "sequence_nr": seq, "bench_produced_at": time.time(), "type": "manual",
        "result": "success", "user": "agent@example.com", "data": {"note": "x" * 200},
        "connections": [{"id": f"{contact}-{seq}", "started": fired, "disconnected": fired,
                         "recordings": [{"location": f"https://rec.example/{contact}/{seq}"}]}],
    }  # fmt: skip
    attributes, has_connections, connections = split_transaction(raw)
    return TransactionEvent(
        event_id=derive_event_id(campaign, "bench", contact, str(seq)),
        campaign_id=CampaignId(campaign), contact_id=ContactId(contact), version=seq,
        observed_at=datetime.now(UTC), fired=fired,
        transaction_id=derive_transaction_id(contact, fired), state=TransactionState.NEW,
        task_log_index=seq, transaction_index=0, contact={"$id": contact, "name": "Bench"},
        transaction=attributes, connections=connections, has_connections=has_connections,
    )  # fmt: skip


def produce(producer: Producer, campaign: str, contacts: int, events: int, rate: float) -> None:
    """Produce `events` round-robin over `contacts` at `rate`/s (0 = as fast as possible)."""
    start = time.monotonic()
    topic = events_topic(campaign)
    for i in range(events):
        if rate > 0:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing the sustained load, not waiting for a result
        event = build_event(campaign, f"c{i % contacts}", i // contacts)
        producer.produce(topic, encode_event(event), message_key(event))
        producer.poll(0)
    producer.flush(60)


def run_phase(bootstrap: str, receiver: str, w: int, contacts: int, events: int,
              rate: float = 0.0) -> dict[str, Any]:  # fmt: skip
    """Run one relay over a fresh campaign and return its figures."""
    campaign = f"bench{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(events_topic(campaign), num_partitions=6)])[
        events_topic(campaign)
    ].result(30)
    fetch_stats(receiver, reset=True)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    if rate <= 0:
        produce(producer, campaign, contacts, events, 0)
    argv = ["--url", receiver + "/hook", "--campaign", campaign, "--bootstrap-servers",
            bootstrap, "--w", str(w), "--wr", "1000000", "--timeout-s", "10"]  # fmt: skip
    relay = build_relay(parse_config(argv, {}))
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    if rate > 0:
        produce(producer, campaign, contacts, events, rate)
    deadline = time.monotonic() + 600
    while fetch_stats(receiver)["count"] < events and time.monotonic() < deadline:
        time.sleep(0.2)  # polling the receiver's counter with a deadline
    stop.set()
    thread.join(60)
    stats = fetch_stats(receiver)
    admin.delete_topics([events_topic(campaign), dead_letter_topic(campaign, "webhook")])
    span = (stats["final"] or 0) - (stats["first"] or 0)
    latencies = sorted(stats["latencies"])

    def pct(p: float) -> float:
        return round(float(latencies[min(len(latencies) - 1, int(p * len(latencies)))]) * 1000, 1)

    return {
        "w": w, "events": events, "contacts": contacts, "delivered": stats["count"],
        "order_violations": stats["violations"], "dead_lettered": relay.stats.dead_lettered,
        "deliveries_per_s": round((stats["count"] - 1) / span, 1) if span > 0 else None,
        "offered_rate_per_s": rate or None,
        "latency_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)} if rate else None,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the three phases and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--w", type=int, default=64)
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--sequential-events", type=int, default=200)
    parser.add_argument("--sustain-s", type=float, default=30.0)
    parser.add_argument("--port", type=int, default=18931)
    args = parser.parse_args(argv)
    if not args.bootstrap_servers:
        parser.error("--bootstrap-servers or $KAFKA_BOOTSTRAP_SERVERS is required")
    receiver = multiprocessing.Process(
        target=serve_receiver, args=(args.port, args.latency_ms / 1000), daemon=True
    )
    receiver.start()
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(100):
            try:
                fetch_stats(base)
                break
            except OSError:
                time.sleep(0.05)  # the receiver process is starting
        sequential = run_phase(args.bootstrap_servers, base, 1, args.contacts,
                               args.sequential_events)  # fmt: skip
        concurrent = run_phase(args.bootstrap_servers, base, args.w, args.contacts, args.events)
        half = (concurrent["deliveries_per_s"] or 0) / 2
        sustained = run_phase(args.bootstrap_servers, base, args.w, args.contacts,
                              int(half * args.sustain_s), rate=half)  # fmt: skip
    finally:
        receiver.terminate()
        receiver.join(10)
    speedup = (concurrent["deliveries_per_s"] or 0) / (sequential["deliveries_per_s"] or 1)
    print(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "receiver_latency_ms": args.latency_ms,
        "sequential": sequential, "concurrent": concurrent, "sustained_half_max": sustained,
        "speedup": round(speedup, 1), "target_speedup": 20,
    }, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
