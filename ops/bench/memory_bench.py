"""Memory bench: RSS of every service while it drains a large backlog, then under steady load.

Not a test; prints JSON. The producer first loads a campaign of `--backlog-contacts` contacts
(about 4.2 events per contact) into a fresh topic with the consumers stopped; then both SQL
consumers (PostgreSQL, MariaDB) and the webhook relay start and drain that backlog while RSS is
sampled every `--sample-s`; then `--steady-seconds` of live changes follow. Flatness is the
mean of the last third of the samples against the first third (consumer processes only run
from the start of the drain, so start-up is not counted as growth).

    python -m ops.bench.memory_bench --backlog-contacts 50000 --steady-seconds 180
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ops.chaos.checks import lags, wait_quiet
from ops.chaos.kafka_probe import end_offsets
from ops.chaos.measure import machine
from ops.chaos.soak import Sampler
from ops.chaos.stack import Stack, StackOptions, wait_until


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.memory_bench", description=__doc__)
    add = parser.add_argument
    add("--backlog-contacts", type=int, default=50_000, help="campaign size of the backlog")
    add("--steady-seconds", type=float, default=180.0, help="steady load after the drain")
    add("--rate", type=float, default=3.0, help="changes per second in the steady phase")
    add("--sample-s", type=float, default=2.0, help="seconds between RSS samples")
    add("--drain-timeout", type=float, default=1800.0, help="longest wait for the drain")
    add("--bootstrap", default="", help="Kafka to use (default: a private one)")
    add("--raw", action="store_true", help="include every sample")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run both phases and return the JSON-ready result."""
    options = StackOptions(contacts=args.backlog_contacts, interval="5s",
                           bootstrap=args.bootstrap or None, proxies=False,
                           defer_consumers=True, relay_timeout_s=10.0)  # fmt: skip
    stack = Stack(options)
    result: dict[str, Any] = {"bench": "memory", "backlog_contacts": args.backlog_contacts}
    try:
        began = time.monotonic()
        stack.start()
        wait_until(lambda: stack.producer_checkpoint_us() > 0, 1800, "initial load", step=1.0)
        result["backlog_events"] = sum(end_offsets(stack.bootstrap, stack.topic).values())
        result["backlog_fill_s"] = round(time.monotonic() - began, 1)
        drain = Sampler(stack, warm_up_s=0.0)
        stack.start_consumers()
        drain_began = time.monotonic()
        next_sample = drain_began
        # A just-started consumer is "caught up" until its group has offsets; wait for progress.
        while True:
            now = time.monotonic()
            if now >= next_sample:
                drain.sample()
                next_sample = now + args.sample_s
                remaining = lags(stack)
                if all(v == 0 for v in remaining.values()) and now - drain_began > 10:
                    break
            if now - drain_began > args.drain_timeout:
                result["drain_error"] = f"not drained in {args.drain_timeout:g} s: {remaining}"
                break
            time.sleep(0.2)
        result["drain_s"] = round(time.monotonic() - drain_began, 1)
        result["rss_drain"] = drain.report(raw=args.raw)
        steady = Sampler(stack)
        steady_began = time.monotonic()
        owed, last = 0.0, steady_began
        while (now := time.monotonic()) - steady_began < args.steady_seconds:
            owed += (now - last) * args.rate
            last = now
            if owed >= 1:
                stack.sim_post(f"/_sim/activity?n={int(owed)}")
                owed -= int(owed)
            if now >= next_sample:
                steady.sample()
                next_sample = now + args.sample_s
            time.sleep(0.2)
        wait_quiet(stack, time.time(), 300)
        result["steady_seconds"] = args.steady_seconds
        result["rss_steady"] = steady.report(raw=args.raw)
        result["command"] = "python -m ops.bench.memory_bench " + " ".join(sys.argv[1:])
        result["machine"] = machine()
        return result
    finally:
        stack.close()


def main(argv: list[str] | None = None) -> int:
    """Print the bench result as JSON."""
    print(json.dumps(run(_parser().parse_args(argv)), indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
