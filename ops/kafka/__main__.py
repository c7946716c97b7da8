"""Command line for the local broker: `python -m ops.kafka start|stop|status|env`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ops.kafka import launcher


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.kafka", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status", "env"])
    parser.add_argument("--port", type=int, default=9092, help="client port on 127.0.0.1")
    parser.add_argument("--controller-port", type=int, default=9093, help="KRaft controller port")
    parser.add_argument("--data-dir", type=Path, default=launcher.DEFAULT_DATA_DIR)
    parser.add_argument("--pid-file", type=Path, default=None, help="default: <data-dir>/kafka.pid")
    parser.add_argument("--libs-dir", type=Path, default=None, help="default: ~/.cache/dbsync2/…")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for readiness")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = launcher.BrokerConfig(
        data_dir=args.data_dir.expanduser().resolve(),
        port=args.port,
        controller_port=args.controller_port,
        pid_file=args.pid_file.expanduser().resolve() if args.pid_file else None,
        libs_dir=args.libs_dir,
    )
    if args.command == "env":
        running = launcher.running_pid(config.pid_path) is not None
        where = launcher.recorded_bootstrap(config) if running else config.bootstrap
        print(f"export KAFKA_BOOTSTRAP_SERVERS={where}")
        return 0
    if args.command == "status":
        pid = launcher.running_pid(config.pid_path)
        if pid is None:
            print(f"Kafka not running (pid file {config.pid_path})")
            return 1
        where = launcher.recorded_bootstrap(config)
        print(f"Kafka running: pid {pid}, {where}, data dir {config.data_dir}")
        return 0
    if args.command == "stop":
        stopped = launcher.stop_broker(config.pid_path)
        print(f"Kafka stopped (pid {stopped})" if stopped else "Kafka was not running")
        return 0
    try:
        result = launcher.ensure_started(config, timeout=args.timeout)
    except (launcher.LauncherError, OSError) as exc:  # OSError: no java or mvn on PATH
        print(f"Kafka failed to start: {exc}", file=sys.stderr)
        return 1
    if result.already_running:
        print(
            f"Kafka already running: pid {result.pid}, {result.bootstrap}, "
            f"pid file {config.pid_path}; nothing to do"
        )
    else:
        print(
            f"Kafka {launcher.kafka_version()} ready at {result.bootstrap} "
            f"(pid {result.pid}) in {result.seconds:.1f} s; data dir {config.data_dir}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
