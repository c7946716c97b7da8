"""End-to-end latency bench: a change in the simulator -> row in PostgreSQL and POST at a receiver.

Not a test; prints JSON. The producer polls every `--interval` (5 s); the simulator gets
`--rate` changes per second for `--seconds`. Each new transaction's `fired` is the moment the
simulator made the change, so latency = (first time the row is visible / the receiver accepted
the POST / the event reached the topic) - fired. The change -> topic figure is the baseline:
the floor the poll interval sets, which the consumers add to.

    python -m ops.bench.latency_bench --seconds 120 --rate 2 --interval 5s
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import sqlalchemy as sa

from ops.chaos.checks import wait_quiet
from ops.chaos.kafka_probe import read_topic
from ops.chaos.measure import epoch_seconds, machine, percentiles
from ops.chaos.stack import Stack, StackOptions
from schemas import DecodeError, TransactionEvent, decode_event


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.latency_bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the steady load")
    parser.add_argument("--rate", type=float, default=2.0, help="simulator changes per second")
    parser.add_argument("--interval", default="5s", help="producer poll interval")
    parser.add_argument("--contacts", type=int, default=300, help="contacts before the load")
    parser.add_argument("--bootstrap", default="", help="Kafka to use (default: a private one)")
    return parser


def _watch_postgres(engine: sa.Engine, seen: dict[str, float]) -> None:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id FROM transactions")).all()
    now = time.time()
    for (tx_id,) in rows:
        seen.setdefault(str(tx_id), now)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the bench and return its JSON-ready result."""
    options = StackOptions(contacts=args.contacts, interval=args.interval,
                           bootstrap=args.bootstrap or None, databases=("postgres",),
                           proxies=False)  # fmt: skip
    stack = Stack(options)
    try:
        stack.start()
        wait_quiet(stack, time.time(), 300)  # the initial load is not what we measure
        engine = stack.databases["postgres"].engine()
        first_seen: dict[str, float] = {}
        _watch_postgres(engine, first_seen)
        before = set(first_seen)
        began = time.time()
        owed, last = 0.0, time.monotonic()
        while time.time() - began < args.seconds:
            now = time.monotonic()
            owed += (now - last) * args.rate
            last = now
            if owed >= 1:
                stack.sim_post(f"/_sim/activity?n={int(owed)}")
                owed -= int(owed)
            _watch_postgres(engine, first_seen)
            time.sleep(0.1)
        last_change = time.time()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            _watch_postgres(engine, first_seen)
            try:
                wait_quiet(stack, last_change, 0.5)
                break
            except TimeoutError:
                continue
        _watch_postgres(engine, first_seen)
        engine.dispose()
        fired: dict[str, float] = {}
        to_topic: list[float] = []
        for msg in read_topic(stack.bootstrap, stack.topic):
            try:
                event = decode_event(msg.value or b"")
            except DecodeError:
                continue
            if not isinstance(event, TransactionEvent) or event.transaction_id in fired:
                continue
            at = epoch_seconds(event.fired)
            if at is None or at < began or event.transaction_id in before:
                continue
            fired[event.transaction_id] = at
            to_topic.append((msg.timestamp_ms / 1000 - at) * 1000)
        to_pg = [(first_seen[t] - at) * 1000 for t, at in fired.items() if t in first_seen]
        to_hook: list[float] = []
        assert stack.receiver is not None
        for delivery in stack.receiver.deliveries().values():
            at = epoch_seconds(delivery.fired)
            if at is not None and at >= began and delivery.first_accepted_at is not None:
                to_hook.append((delivery.first_accepted_at - at) * 1000)
        return {
            "bench": "latency", "interval": args.interval, "rate_per_s": args.rate,
            "seconds": args.seconds, "new_transactions": len(fired),
            "change_to_topic_ms": percentiles(to_topic),
            "change_to_postgres_ms": percentiles(to_pg),
            "change_to_webhook_ms": percentiles(to_hook),
            "command": "python -m ops.bench.latency_bench " + " ".join(sys.argv[1:]),
            "machine": machine(),
        }  # fmt: skip
    finally:
        stack.close()


def main(argv: list[str] | None = None) -> int:
    """Print the bench result as JSON."""
    print(json.dumps(run(_parser().parse_args(argv)), indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
