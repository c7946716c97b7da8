"""Composition root of `dbsync2 consume custom`: load a group, wire Kafka and metrics, run it.

Exit codes: 0 after a clean stop (SIGTERM / SIGINT), 1 for bad configuration (one line on
stderr), 2 when the group stops itself (too many dead letters, retries exhausted, Kafka
unusable, or an unexpected exception from the group). Nothing here runs at import time.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType

from confluent_kafka import KafkaException

from consumers.custom.loader import GroupNotFound, load_group_factory
from consumers.custom.wiring import build_running_group
from consumers.runtime.dead_letter import DeadLetterLimit
from consumers.runtime.group import GroupContext, GroupSpec, RetryPolicy, default_group_id
from consumers.runtime.outcomes import DeadLetterLimitExceeded
from consumers.runtime.retry_loop import RetriesExhausted
from ops.observability.health import HealthServer, Readiness
from ops.observability.json_logs import configure_logging
from ops.observability.metrics import PipelineMetrics

log = logging.getLogger(__name__)
PROG = "dbsync2 consume custom"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `dbsync2 consume custom`."""
    p = argparse.ArgumentParser(prog=PROG, description="Run a custom consumer group.")
    p.add_argument("--group", required=True, help="module:Class, or an entry point name")
    p.add_argument("--campaign", required=True, help="campaign id (selects the events topic)")
    p.add_argument("--name", help="group name (DLQ topic suffix); default from the group")
    p.add_argument("--group-id", help="Kafka group id; default dbsync2.<campaign>.<name>")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--bootstrap-servers", help="default $KAFKA_BOOTSTRAP_SERVERS")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--max-wait", type=float, default=1.0, help="seconds to fill a batch")
    p.add_argument("--retry-max-delay", type=float, default=30.0)
    p.add_argument("--retry-max-attempts", type=int, default=0, help="0 = retry outages forever")
    p.add_argument("--max-dead-letters-in-a-row", type=int, default=100)
    p.add_argument("--metrics-port", type=int, help="serve /metrics /healthz /readyz here")
    p.add_argument("--metrics-host", default="0.0.0.0")  # noqa: S104 - scraped from outside
    p.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    return p


def parse_options(pairs: Sequence[str]) -> dict[str, str]:
    """Turn ["k=v", ...] into a dict; raise ValueError for a pair without '='."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--option expects KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def install_stop_signals(stop: threading.Event) -> None:
    """Set `stop` on SIGTERM and SIGINT (main thread only)."""

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def main(argv: list[str], environ: Mapping[str, str] | None = None) -> int:
    """Run `dbsync2 consume custom` and return its exit code."""
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    configure_logging(args.log_json)
    bootstrap = args.bootstrap_servers or env.get("KAFKA_BOOTSTRAP_SERVERS", "")
    try:
        if not bootstrap:
            raise ValueError("set --bootstrap-servers or $KAFKA_BOOTSTRAP_SERVERS")
        default_name, factory = load_group_factory(args.group)
        name = args.name or default_name
        retry = RetryPolicy(
            max_delay=args.retry_max_delay, max_attempts=args.retry_max_attempts or None
        )
        spec = GroupSpec(
            name=name,
            campaign=args.campaign,
            group_id=args.group_id or default_group_id(args.campaign, name),
            batch_size=args.batch_size,
            max_wait=args.max_wait,
            retry=retry,
        )
        context = GroupContext(args.campaign, name, spec.group_id, parse_options(args.option))
        group = factory(context)
    except (ValueError, GroupNotFound) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    metrics = PipelineMetrics(process_metrics=True)
    readiness = Readiness()
    server = None
    if args.metrics_port is not None:
        server = HealthServer(metrics.registry, readiness, args.metrics_port, args.metrics_host)
        server.start()
    stop = threading.Event()
    install_stop_signals(stop)
    limit = DeadLetterLimit(max_consecutive=args.max_dead_letters_in_a_row)
    log.info("running custom group %s as %s on campaign %s", name, spec.group_id, spec.campaign)
    try:
        running = build_running_group(
            bootstrap, spec, group, metrics=metrics, readiness=readiness, limit=limit
        )
        running.run(stop)
    except (DeadLetterLimitExceeded, RetriesExhausted, KafkaException) as exc:
        print(f"{PROG}: stopped: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        log.exception("group %s failed", name)
        print(f"{PROG}: stopped by an unexpected error: {exc!r}", file=sys.stderr)
        return 2
    finally:
        if server is not None:
            server.stop()
    return 0
