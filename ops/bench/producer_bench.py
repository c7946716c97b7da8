"""Benchmark the producer's initial load: events/s from a large simulated campaign, with shares.

Not a test. Starts the simulator as a separate process on 127.0.0.1 (so it does not share our
GIL), then runs `Producer.run_initial_load()` against real Kafka once per variant, each with a
fresh state store: the baseline fetches 20 ids per POST one request at a time (the original's
approach, no pipelining); the others keep several E3 requests in flight. Prints JSON.

    .venv/bin/python -m ops.bench.producer_bench --contacts 20000 --bootstrap 127.0.0.1:9092
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from confluent_kafka import Producer as KafkaProducer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from producer.clock import SystemClock
from producer.dialfire.client import DialfireClient
from producer.engine import Producer
from producer.kafka_config import producer_config
from producer.publisher import KafkaEventPublisher
from producer.service import build_session
from producer.settings import ProducerSettings
from producer.state import StateStore
from producer.topic_setup import ensure_events_topic
from schemas.codec import default_codec
from schemas.topics import events_topic

TOKEN = "bench-token"  # noqa: S105 - the local simulator's fixed test token
_URL = re.compile(r"on (http://\S+)")


def start_simulator(
    campaign_id: str, contacts: int, inbound: int, latency_ms: int
) -> tuple[subprocess.Popen[str], str]:
    """Start `python -m simulator` on a free port; return the process and its URL."""
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "simulator", "--port", "0", "--campaign-id", campaign_id,
            "--token", TOKEN, "--contacts", str(contacts), "--inbound-calls", str(inbound),
            "--latency-ms", str(latency_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = _URL.search(line)
    if match is None:
        proc.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return proc, match.group(1)


def run_variant(
    name: str, in_flight: int, url: str, campaign_id: str, bootstrap: str
) -> dict[str, Any]:
    """Run one initial load with a fresh state store and return its figures."""
    settings = replace(ProducerSettings(campaign_id=campaign_id), fetch_in_flight=in_flight)
    session = build_session(in_flight)
    api = DialfireClient(session, campaign_id, TOKEN, url)
    kafka = KafkaProducer(producer_config(bootstrap))
    publisher = KafkaEventPublisher(kafka, events_topic(campaign_id), default_codec())
    with tempfile.TemporaryDirectory() as state_dir:
        state = StateStore.open_in(Path(state_dir), campaign_id)
        producer = Producer(settings, api, publisher, state, SystemClock())
        began = time.monotonic()
        report = producer.run_initial_load()
        wall = time.monotonic() - began
        state.close()
    kafka.flush(30)
    session.close()
    t = producer.timings
    ps = publisher.stats
    build = t["build_and_publish"] - ps.encode_seconds - ps.produce_seconds
    steps = {
        "http_wait": t["fetch_wait"],
        "state_lookup": t["state_lookup"],
        "build_events": build,
        "encode": ps.encode_seconds,
        "produce": ps.produce_seconds,
        "confirm_flush": t["confirm"],
        "state_commit": t["commit"],
    }
    steps["other (inbound pages, setup)"] = wall - sum(steps.values())
    return {
        "variant": name,
        "fetch_in_flight": in_flight,
        "wall_seconds": round(wall, 2),
        "events": report.total,
        "events_by_type": dict(report.published),
        "events_per_second": round(report.total / wall, 1),
        "contacts_per_second": round(report.contacts_fetched / wall, 1),
        "http_requests": api.stats.requests,
        "http_seconds_summed_over_threads": round(api.stats.http_seconds, 2),
        "share_of_wall_time": {k: round(v / wall, 3) for k, v in steps.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(prog="producer_bench")
    parser.add_argument("--contacts", type=int, default=20000)
    parser.add_argument("--inbound-calls", type=int, default=2000)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="simulator delay per request (WAN round trip)"
    )
    parser.add_argument("--in-flight", default="1,4,8", help="variants; 1 is the baseline")
    args = parser.parse_args(argv)
    campaign_id = f"BENCH{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    ensure_events_topic(admin, NewTopic, events_topic(campaign_id))
    sim, url = start_simulator(campaign_id, args.contacts, args.inbound_calls, args.latency_ms)
    runs = []
    try:
        for in_flight in (int(x) for x in args.in_flight.split(",")):
            name = "baseline: 20 ids per POST, sequential" if in_flight == 1 else (
                f"pipelined: {in_flight} E3 requests of 20 ids in flight"
            )  # fmt: skip
            runs.append(run_variant(name, in_flight, url, campaign_id, args.bootstrap))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    finally:
        sim.terminate()
        sim.wait(30)
        for future in admin.delete_topics(
            [events_topic(campaign_id)], operation_timeout=30
        ).values():
            future.result(30)  # the bench's own topic only
    result = {
        "benchmark": "producer initial load (simulator over HTTP -> Avro -> Kafka, acks=all)",
        "command": "python -m ops.bench.producer_bench " + " ".join(argv or sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "campaign": {
            "contacts": args.contacts,
            "inbound_calls": args.inbound_calls,
            "simulator_latency_ms": args.latency_ms,
        },
        "runs": runs,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
