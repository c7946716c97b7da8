"""Parse and validate the webhook relay's flags and environment variables into a RelayConfig.

Every flag has an environment variable (flags win). Errors raise ConfigError with a one-line
message that never contains a secret (signing secret, header values, URL credentials).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from consumers.webhook.signing import SigningKeyError, decode_signing_key, parse_header_option
from ops.observability.service_options import (
    ObservabilityOptions,
    add_observability_arguments,
    observability_options,
)

DEFAULT_RATE = 5.0  # the original's --wr default; `<= 0` also means 5, as in the original


class ConfigError(ValueError):
    """Invalid configuration; the message is one line and safe to print."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


@dataclass(frozen=True)
class RelayConfig:
    """Everything the composition root needs to build a relay."""

    url: str
    campaign: str
    group: str
    bootstrap_servers: str
    in_flight: int
    rate: float
    burst: float
    timeout_s: float
    headers: tuple[tuple[str, str], ...]
    signing_secret: str | None
    max_attempts: int
    verify_tls: bool
    retry_base_s: float
    retry_max_s: float
    retry_after_cap_s: float
    probe_base_s: float
    probe_max_s: float
    breaker_threshold: int
    max_buffered: int
    max_consecutive_dead_letters: int
    session_timeout_ms: int = 45_000
    max_buffered_bytes: int = 32 * 1024 * 1024
    observability: ObservabilityOptions = field(default_factory=ObservabilityOptions)


# flag -> (environment variable, type, default, help)
_OPTIONS: dict[str, tuple[str, type, object, str]] = {
    "--url": ("DBSYNC_URL", str, None, "endpoint to POST to (http or https)"),
    "--campaign": ("DBSYNC_CAMPAIGN", str, None, "campaign id (selects the events topic)"),
    "--group": ("DBSYNC_GROUP", str, "webhook", "consumer group name (and its DLQ topic)"),
    "--bootstrap-servers": ("KAFKA_BOOTSTRAP_SERVERS", str, None, "Kafka bootstrap servers"),
    "--w": ("DBSYNC_W", int, 32, "requests in flight across contacts"),
    "--wr": ("DBSYNC_WR", float, DEFAULT_RATE, "requests per second (<= 0 means 5)"),
    "--wb": ("DBSYNC_WB", float, 0.0, "burst (<= 0 means 2 x rate)"),
    "--timeout-s": ("DBSYNC_TIMEOUT_S", float, 30.0, "timeout of each request in seconds"),
    "--signing-secret-file": ("DBSYNC_WEBHOOK_SECRET_FILE", str, None, "file with the secret"),
    "--max-attempts": ("DBSYNC_MAX_ATTEMPTS", int, 10, "attempts before dead-lettering"),
    "--retry-base-ms": ("DBSYNC_RETRY_BASE_MS", float, 1000.0, "first backoff ceiling"),
    "--retry-max-ms": ("DBSYNC_RETRY_MAX_MS", float, 300_000.0, "largest backoff ceiling"),
    "--retry-after-cap-s": ("DBSYNC_RETRY_AFTER_CAP_S", float, 300.0, "cap on Retry-After"),
    "--probe-interval-ms": ("DBSYNC_PROBE_INTERVAL_MS", float, 1000.0, "first probe delay"),
    "--probe-max-ms": ("DBSYNC_PROBE_MAX_MS", float, 30_000.0, "largest probe delay"),
    "--breaker-threshold": ("DBSYNC_BREAKER_THRESHOLD", int, 5, "failures that open it"),
    "--max-buffered": ("DBSYNC_MAX_BUFFERED", int, 10_000, "buffered events before pausing"),
    "--max-buffered-bytes": (
        "DBSYNC_MAX_BUFFERED_BYTES",
        int,
        32 * 1024 * 1024,
        "buffered payload bytes (Kafka key + value) before pausing",
    ),
    "--session-timeout-ms": (
        "DBSYNC_SESSION_TIMEOUT_MS",
        int,
        45_000,
        "Kafka session timeout: how soon a crashed instance's partitions move",
    ),
    "--max-consecutive-dead-letters": (
        "DBSYNC_MAX_CONSECUTIVE_DEAD_LETTERS",
        int,
        100,
        "stop the group after this many dead letters in a row (0 = never)",
    ),
}
_TRUE = {"1", "true", "yes", "on"}


def build_parser(environ: Mapping[str, str], prog: str = "dbsync2 consume webhook") -> _Parser:
    """Return the argument parser, with defaults taken from `environ`."""
    parser = _Parser(prog=prog, description="Relay transaction events to a web service.")
    for flag, (env, kind, default, text) in _OPTIONS.items():
        raw = environ.get(env)
        value = default
        if raw is not None and raw != "":
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"${env} must be a {kind.__name__}") from None
        parser.add_argument(flag, type=kind, default=value, help=f"{text} (${env})")
    parser.add_argument(
        "--header",
        action="append",
        default=[line for line in environ.get("DBSYNC_WEBHOOK_HEADERS", "").splitlines() if line],
        help="extra header 'Name: value', repeatable ($DBSYNC_WEBHOOK_HEADERS, one per line)",
    )
    parser.add_argument(
        "--insecure-skip-verify",
        action="store_true",
        default=environ.get("DBSYNC_INSECURE_SKIP_VERIFY", "").lower() in _TRUE,
        help="do not verify TLS certificates (never in production)",
    )
    add_observability_arguments(parser, environ)
    return parser


def validate_url(url: str | None) -> str:
    """Return the URL if it is an absolute http(s) URL; the error never echoes the URL."""
    if not url:
        raise ConfigError("--url (or $DBSYNC_URL) is required")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise ConfigError("--url is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"--url must be an http or https URL, not {parts.scheme or 'none'}://")
    if not parts.hostname:
        raise ConfigError("--url has no host")
    return url


def read_secret(path: str | None, environ: Mapping[str, str]) -> str | None:
    """Return the signing secret from the file (first) or $DBSYNC_WEBHOOK_SECRET, else None."""
    if path:
        try:
            secret = Path(path).read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigError(f"cannot read --signing-secret-file {path}: {reason}") from None
        if not secret:
            raise ConfigError(f"--signing-secret-file {path} is empty")
    else:
        secret = environ.get("DBSYNC_WEBHOOK_SECRET", "").strip()
    if not secret:
        return None
    try:
        decode_signing_key(secret)
    except SigningKeyError as exc:
        raise ConfigError(str(exc)) from None
    return secret


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def parse_config(argv: Sequence[str], environ: Mapping[str, str]) -> RelayConfig:
    """Return a validated RelayConfig; raise ConfigError for anything wrong."""
    args = build_parser(environ).parse_args(list(argv))
    url = validate_url(args.url)
    _require(bool(args.campaign), "--campaign (or $DBSYNC_CAMPAIGN) is required")
    _require(
        bool(args.bootstrap_servers),
        "--bootstrap-servers (or $KAFKA_BOOTSTRAP_SERVERS) is required",
    )
    _require(bool(args.group), "--group must not be empty")
    headers: list[tuple[str, str]] = []
    for option in args.header:
        try:
            headers.append(parse_header_option(option))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    rate = args.wr if args.wr > 0 and math.isfinite(args.wr) else DEFAULT_RATE
    burst = args.wb if args.wb > 0 else 2 * rate
    _require(args.w >= 1, "--w must be at least 1")
    _require(args.timeout_s > 0, "--timeout-s must be positive")
    _require(1 <= args.max_attempts <= 100, "--max-attempts must be between 1 and 100")
    _require(args.retry_base_ms >= 0 and args.retry_max_ms >= 0, "retry delays must be >= 0")
    _require(args.probe_interval_ms > 0, "--probe-interval-ms must be positive")
    _require(args.breaker_threshold >= 1, "--breaker-threshold must be at least 1")
    _require(args.max_buffered >= 1, "--max-buffered must be at least 1")
    _require(args.max_buffered_bytes >= 1, "--max-buffered-bytes must be at least 1")
    return RelayConfig(
        url=url,
        campaign=args.campaign,
        group=args.group,
        bootstrap_servers=args.bootstrap_servers,
        in_flight=args.w,
        rate=rate,
        burst=max(burst, 1.0),
        timeout_s=args.timeout_s,
        headers=tuple(headers),
        signing_secret=read_secret(args.signing_secret_file, environ),
        max_attempts=args.max_attempts,
        verify_tls=not args.insecure_skip_verify,
        retry_base_s=args.retry_base_ms / 1000,
        retry_max_s=args.retry_max_ms / 1000,
        retry_after_cap_s=args.retry_after_cap_s,
        probe_base_s=args.probe_interval_ms / 1000,
        probe_max_s=max(args.probe_max_ms, args.probe_interval_ms) / 1000,
        breaker_threshold=args.breaker_threshold,
        max_buffered=args.max_buffered,
        max_consecutive_dead_letters=args.max_consecutive_dead_letters,
        session_timeout_ms=args.session_timeout_ms,
        max_buffered_bytes=args.max_buffered_bytes,
        observability=observability_options(args),
    )
