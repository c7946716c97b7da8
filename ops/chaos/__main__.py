"""Command line of the chaos soak: `python -m ops.chaos --duration 300 [--seed N] [--report f]`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ops.chaos.checks import verify, wait_quiet
from ops.chaos.soak import ChaosMonkey, SoakSettings
from ops.chaos.stack import Stack, StackOptions


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.chaos", description=__doc__)
    add = parser.add_argument
    add("--duration", type=float, default=300.0, help="seconds of chaos (default 300)")
    add("--seed", type=int, default=int(time.time()) % 100_000, help="seed of the fault schedule")
    add("--report", type=Path, help="also write the JSON report to this file")
    add("--contacts", type=int, default=300, help="contacts the simulator starts with")
    add("--rate", type=float, default=3.0, help="simulator changes per second during the run")
    add("--interval", default="3s", help="producer poll interval")
    add("--quiet-timeout", type=float, default=240.0, help="longest wait for a quiet system")
    add("--raw-rss", action="store_true", help="include every RSS sample in the report")
    add("--keep", action="store_true", help="keep the work dir (logs, broker data)")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the stack, run the chaos, wait for quiet, verify; return the report."""
    options = StackOptions(contacts=args.contacts, seed=args.seed, interval=args.interval)
    stack = Stack(options)
    report: dict[str, Any] = {"seed": args.seed, "duration_requested_s": args.duration,
                              "work_dir": str(stack.work), "ok": False}  # fmt: skip
    began = time.monotonic()
    try:
        stack.start()
        report["startup_s"] = round(time.monotonic() - began, 1)
        print(f"chaos: stack up in {report['startup_s']} s, work dir {stack.work}", flush=True)
        monkey = ChaosMonkey(stack, SoakSettings(args.duration, args.seed, args.rate))
        report["duration_s"] = round(monkey.run(), 1)
        monkey.calm_down()
        report["activity_changes"] = monkey.changes
        report["faults_injected"] = dict(sorted(monkey.faults.items()))
        report["fault_timeline"] = monkey.timeline
        try:
            report.update(wait_quiet(stack, monkey.last_change_s, args.quiet_timeout))
        except TimeoutError as exc:
            report["quiet_error"] = str(exc)
        monkey.sampler.sample()
        report.update(verify(stack))
        if "quiet_error" in report:
            report["ok"] = False
        report["components"] = {
            name: {"starts": c.starts, "kills": c.kills, "unexpected_exits": c.unexpected_exits}
            for name, c in stack.components.items()
        }
        report["rss"] = monkey.sampler.report(raw=args.raw_rss)
    except (Exception, KeyboardInterrupt) as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc(limit=8)
        report["log_tails"] = {n: c.log_tail(15) for n, c in stack.components.items()}
    finally:
        report["wall_s"] = round(time.monotonic() - began, 1)
        stack.close(keep=args.keep or not report.get("ok"))
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print the JSON report; exit 0 only when nothing was lost or wrong."""
    args = _parser().parse_args(argv)
    os.environ.setdefault("DBSYNC_LOG_LEVEL", "INFO")
    # SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C, so the stack's `finally` stops everything.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    report = run(args)
    text = json.dumps(report, indent=2, default=str)
    if args.report:
        args.report.write_text(text + "\n")
    print(text, flush=True)
    return 0 if report.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
