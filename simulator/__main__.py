"""Command line: run the Dialfire simulator until interrupted (``python -m simulator``)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

from simulator.activity import ActivityGenerator
from simulator.campaign import Campaign
from simulator.faults import DEFAULT_MALFORMED_MODES, MALFORMED_MODES, FaultConfig
from simulator.server import SimulatorServer


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for the simulator CLI."""
    parser = argparse.ArgumentParser(
        prog="simulate", description="Serve a seeded synthetic Dialfire campaign over HTTP."
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    add("--port", type=int, default=8080, help="port to bind; 0 picks a free one (default 8080)")
    add("--campaign-id", default="DEMO", help="campaign id served under /api/campaigns/{id}")
    add("--token", default=None, help="accepted Bearer token (default: $SIMULATOR_TOKEN)")
    add("--forbidden-token", default="", help="a token that always gets 403")
    add("--contacts", type=int, default=200, help="number of generated contacts")
    add("--inbound-calls", type=int, default=None, help="inbound calls (default contacts/4)")
    add("--seed", type=int, default=42, help="seed for data, activity and faults")
    add("--hostile", action="store_true", help="add custom fields with hostile names/values")
    add("--rate", type=float, default=0.0, help="live changes per second (0 = static)")
    add("--error-rate", type=float, default=0.0, help="share of API requests answered 5xx")
    add("--burst-429", type=int, default=0, help="length of each 429 burst (0 = none)")
    add("--burst-429-every", type=int, default=20, help="a 429 burst starts every N requests")
    add("--retry-after", type=int, default=1, help="Retry-After seconds sent with 429")
    add("--latency-ms", type=int, default=0, help="delay added to every API request")
    add("--malformed-rate", type=float, default=0.0, help="share of API answers made malformed")
    add("--malformed-modes", default=",".join(DEFAULT_MALFORMED_MODES),
        help=f"comma-separated modes out of {','.join(MALFORMED_MODES)}")  # fmt: skip
    add("--no-fired-suffix", action="store_true", help="E4 events without the 4-digit suffix")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGINT/SIGTERM; return the process exit code."""
    args = build_parser().parse_args(argv)
    token = args.token or os.environ.get("SIMULATOR_TOKEN", "")
    if not token:
        print("simulate: a token is required (--token or SIMULATOR_TOKEN)", file=sys.stderr)
        return 2
    started = time.monotonic()
    inbound = args.contacts // 4 if args.inbound_calls is None else args.inbound_calls
    campaign = Campaign.generate(
        args.seed, args.contacts, inbound, hostile=args.hostile, campaign_id=args.campaign_id
    )
    try:
        faults = FaultConfig(seed=args.seed).updated(
            {
                "error_rate": args.error_rate,
                "burst_429": args.burst_429,
                "burst_429_every": args.burst_429_every,
                "retry_after_s": args.retry_after,
                "latency_ms": args.latency_ms,
                "malformed_rate": args.malformed_rate,
                "malformed_modes": [m for m in args.malformed_modes.split(",") if m],
            }
        )
    except ValueError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    server = SimulatorServer(
        campaign,
        host=args.host,
        port=args.port,
        token=token,
        forbidden_token=args.forbidden_token,
        faults=faults,
        activity=ActivityGenerator(campaign, rate=args.rate),
        fired_suffix=not args.no_fired_suffix,
    )
    done = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server.start()
    print(
        f"simulator: campaign {args.campaign_id} with {args.contacts} contacts on {server.url} "
        f"(generated in {time.monotonic() - started:.1f}s, {args.rate} changes/s)",
        flush=True,
    )
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
