"""Parse `dbsync2 producer` flags and environment variables into typed service settings.

Flags win over environment variables, which win over defaults. The token can come from `--ct`,
`--token-file`, `DBSYNC_CT` or `DBSYNC_CT_FILE`; it is kept out of every repr.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

from ops.observability.service_options import add_observability_arguments, observability_options
from producer.dialfire.client import DEFAULT_BASE_URL
from producer.filters import FILTER_MODES, TransactionFilter
from producer.settings import MODES, ProducerSettings, ServiceSettings

DEFAULT_STATE_DIR = Path("/var/opt/dbsync2")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class SettingsError(Exception):
    """A flag or environment variable is missing or invalid (exit code 1, one line on stderr)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that reports errors as SettingsError (exit 1 like the original, not 2)."""

    def error(self, message: str) -> NoReturn:
        raise SettingsError(message)


def parse_duration(text: str) -> timedelta:
    """Parse `90`, `90s`, `5m`, `12h`, `1d` or `500ms` (a bare number means seconds)."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (try 60, 90s, 5m, 12h)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])


def parse_start_date(text: str) -> datetime:
    """Parse `--s`: `2006-01-02T15:04:05` (optionally with .fff and Z) or `2006-01-02`, UTC."""
    value = text.strip().removesuffix("Z")
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"invalid start date {text!r} (use 2018-02-01[T08:00:00])")


def build_parser(env: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """Return the `dbsync2 producer` argument parser (metrics defaults from `env`)."""
    p = _Parser(
        prog="dbsync2 producer",
        description="Poll one Dialfire campaign and publish every change as Avro events to Kafka.",
        epilog="Environment: DBSYNC_C, DBSYNC_CT, DBSYNC_CT_FILE, DBSYNC_STATE_DIR, "
        "DBSYNC_LOG_DIR, DIALFIRE_API_URL, KAFKA_BOOTSTRAP_SERVERS, DBSYNC_METRICS_PORT, "
        "DBSYNC_METRICS_HOST, DBSYNC_LOG_JSON.",
    )
    p.add_argument("--c", "--campaign", dest="campaign", help="campaign id (required)")
    p.add_argument("--ct", "--token", dest="token", help="Sync Client campaign token")
    p.add_argument("--token-file", type=Path, help="file holding the campaign token")
    p.add_argument("--mode", choices=MODES, help="initial | since | continuous (default)")
    p.add_argument("--backfill", choices=("all", "since"), help="same as --mode initial|since")
    p.add_argument("--s", dest="since", type=parse_start_date, help="start date (UTC)")
    p.add_argument("--fm", choices=FILTER_MODES, help="updates_only | hi_updates_only")
    p.add_argument("--fp", help="comma-separated task-name prefixes, e.g. fc_,qc_")
    p.add_argument(
        "--interval", type=parse_duration, default=timedelta(seconds=60), help="poll every (60s)"
    )
    p.add_argument(
        "--overlap",
        type=parse_duration,
        default=timedelta(seconds=120),
        help="each poll covers [checkpoint - overlap, now] (120s)",
    )
    p.add_argument(
        "--reconcile-interval",
        type=parse_duration,
        default=timedelta(hours=12),
        help="md5-compare every contact this often (12h)",
    )
    p.add_argument("--fetch-in-flight", type=int, default=8, help="concurrent E3 requests")
    p.add_argument("--chunk-contacts", type=int, default=1000, help="contacts per commit")
    p.add_argument("--state-dir", type=Path, help="state directory (a docker volume)")
    p.add_argument("--log-dir", type=Path, help="log directory (default /var/log/dbsync2)")
    p.add_argument("--bootstrap-servers", help="Kafka bootstrap servers")
    p.add_argument("--partitions", type=int, help="partitions when creating the topic")
    p.add_argument("--retention-ms", type=int, help="retention when creating the topic")
    p.add_argument("--once", action="store_true", help="run one cycle, then exit")
    p.add_argument("--l", dest="log_level", type=int, default=4, help="log level 0..5")
    p.add_argument("--v", dest="verbose", action="store_true", help="log to stdout (debug)")
    add_observability_arguments(p, {} if env is None else env)
    return p


def read_token(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    """Return the token from --ct, --token-file, DBSYNC_CT or DBSYNC_CT_FILE (in that order)."""
    if args.token:
        return str(args.token).strip()
    token_file: Path | None = args.token_file
    if token_file is None:
        if env.get("DBSYNC_CT"):
            return env["DBSYNC_CT"].strip()
        if env.get("DBSYNC_CT_FILE"):
            token_file = Path(env["DBSYNC_CT_FILE"])
    if token_file is None:
        return ""
    try:
        return token_file.read_text("utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"cannot read the token file {token_file}: {exc.strerror}") from exc


def resolve_state_dir(explicit: Path | None) -> Path:
    """Return the state dir: explicit, else /var/opt/dbsync2 if writable, else ~/.dbsync2/state."""
    if explicit is not None:
        return explicit
    try:
        DEFAULT_STATE_DIR.mkdir(parents=True, exist_ok=True)
        if os.access(DEFAULT_STATE_DIR, os.W_OK):
            return DEFAULT_STATE_DIR
    except OSError:
        pass
    return Path.home() / ".dbsync2" / "state"


def parse_settings(argv: Sequence[str], env: Mapping[str, str]) -> ServiceSettings:
    """Return validated settings; raise SettingsError with a one-line message otherwise."""
    args = build_parser(env).parse_args(list(argv))
    campaign = args.campaign or env.get("DBSYNC_C", "")
    if not campaign:
        raise SettingsError("Campaign ID (--c) is required")
    token = read_token(args, env)
    if not token:
        raise SettingsError("Campaign token (--ct) is required")
    mode = args.mode or {"all": "initial", "since": "since", None: "continuous"}[args.backfill]
    if mode == "since" and args.since is None:
        raise SettingsError("--mode since needs a start date (--s 2018-02-01)")
    if args.interval <= timedelta(0):
        raise SettingsError("--interval must be positive")
    state_dir = args.state_dir or (Path(env["DBSYNC_STATE_DIR"]) if env.get("DBSYNC_STATE_DIR")
                                   else None)  # fmt: skip
    log_dir = args.log_dir or (Path(env["DBSYNC_LOG_DIR"]) if env.get("DBSYNC_LOG_DIR") else None)
    return ServiceSettings(
        producer=ProducerSettings(
            campaign_id=campaign,
            transaction_filter=TransactionFilter.from_flags(args.fm, args.fp),
            interval=args.interval,
            overlap=args.overlap,
            reconcile_interval=args.reconcile_interval,
            since=args.since,
            fetch_in_flight=max(1, args.fetch_in_flight),
            chunk_contacts=max(1, args.chunk_contacts),
        ),
        token=token,
        mode=mode,
        api_url=env.get("DIALFIRE_API_URL") or DEFAULT_BASE_URL,
        bootstrap_servers=args.bootstrap_servers
        or env.get("KAFKA_BOOTSTRAP_SERVERS")
        or "127.0.0.1:9092",
        state_dir=resolve_state_dir(state_dir),
        log_dir=log_dir,
        log_level=args.log_level,
        verbose=args.verbose,
        once=args.once,
        partitions=args.partitions,
        retention_ms=args.retention_ms,
        observability=observability_options(args),
    )
