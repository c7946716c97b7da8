"""Parse `dbsync2 consume sql` flags and environment variables into SqlSettings (flags win).

Errors raise SettingsError with a one-line message that never contains the database password.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from sqlalchemy.engine import URL

from consumers.sql.urls import DatabaseUrlError, parse_database_url
from ops.observability.service_options import (
    ObservabilityOptions,
    add_observability_arguments,
    observability_options,
)


class SettingsError(ValueError):
    """Invalid configuration; the message is one line and safe to print."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise SettingsError(message)


@dataclass(frozen=True)
class SqlSettings:
    """Everything the composition root needs to run the SQL materializer."""

    url: URL
    campaign: str
    group: str = "sql"
    table_prefix: str = ""
    bootstrap_servers: str = "127.0.0.1:9092"
    batch_size: int = 2000
    batch_wait_ms: int = 500
    max_consecutive_dead_letters: int = 100
    session_timeout_ms: int = 45000
    create_dead_letter_topic: bool = True
    observability: ObservabilityOptions = field(default_factory=ObservabilityOptions)

    @property
    def password(self) -> str | None:
        """The database password, for redaction only."""
        return self.url.password if isinstance(self.url.password, str) else None


# flag -> (environment variable, type, default, help); aliases are dbsync2 v1.15's short flags.
_OPTIONS: dict[tuple[str, ...], tuple[str, type, object, str]] = {
    ("--url",): ("DBSYNC_URL", str, None, "database URL (mysql://, postgres://, sqlserver://)"),
    ("--url-file",): ("DBSYNC_URL_FILE", str, None, "file holding the database URL"),
    ("--campaign", "--c"): ("DBSYNC_CAMPAIGN", str, None, "campaign id (selects the topic)"),
    ("--group",): ("DBSYNC_GROUP", str, "sql", "consumer group id (and its DLQ topic)"),
    ("--tp",): ("DBSYNC_TP", str, "", "table name prefix"),
    ("--bootstrap-servers",): (
        "KAFKA_BOOTSTRAP_SERVERS",
        str,
        "127.0.0.1:9092",
        "Kafka bootstrap servers",
    ),
    ("--batch-size",): ("DBSYNC_BATCH_SIZE", int, 2000, "events per database transaction"),
    ("--batch-wait-ms",): ("DBSYNC_BATCH_WAIT_MS", int, 500, "longest wait to fill a batch"),
    ("--max-consecutive-dead-letters",): (
        "DBSYNC_MAX_CONSECUTIVE_DEAD_LETTERS",
        int,
        100,
        "stop the group after this many dead letters in a row",
    ),
    ("--session-timeout-ms",): (
        "DBSYNC_SESSION_TIMEOUT_MS",
        int,
        45000,
        "Kafka session timeout: how soon a crashed instance's partitions move",
    ),
}


def build_parser(environ: Mapping[str, str]) -> _Parser:
    """Return the argument parser, with defaults taken from `environ`."""
    parser = _Parser(
        prog="dbsync2 consume sql",
        description="Materialize a campaign's events into SQL tables (effectively once).",
    )
    for flags, (env, kind, default, text) in _OPTIONS.items():
        raw = environ.get(env)
        value = default
        if raw:
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"${env} must be a {kind.__name__}") from None
        dest = flags[0].lstrip("-").replace("-", "_")
        parser.add_argument(*flags, dest=dest, type=kind, default=value, help=f"{text} (${env})")
    add_observability_arguments(parser, environ)
    return parser


def _read_url(url: str | None, url_file: str | None) -> str:
    if url:
        return url
    if url_file:
        try:
            return Path(url_file).read_text("utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"cannot read --url-file: {exc.strerror}") from None
    raise SettingsError("--url, --url-file, $DBSYNC_URL or $DBSYNC_URL_FILE is required")


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> SqlSettings:
    """Return validated settings from command-line words and environment variables."""
    args = build_parser(environ).parse_args(list(argv))
    raw_url = _read_url(args.url, args.url_file)
    try:
        url = parse_database_url(raw_url)
    except DatabaseUrlError as exc:
        raise SettingsError(str(exc)) from None
    if not args.campaign:
        raise SettingsError("--campaign (or $DBSYNC_CAMPAIGN) is required")
    if args.batch_size < 1 or args.batch_wait_ms < 0:
        raise SettingsError("--batch-size must be >= 1 and --batch-wait-ms >= 0")
    if not args.group:
        raise SettingsError("--group must not be empty")
    return SqlSettings(
        url=url,
        campaign=args.campaign,
        group=args.group,
        table_prefix=args.tp,
        bootstrap_servers=args.bootstrap_servers,
        batch_size=args.batch_size,
        batch_wait_ms=args.batch_wait_ms,
        max_consecutive_dead_letters=args.max_consecutive_dead_letters,
        session_timeout_ms=args.session_timeout_ms,
        observability=observability_options(args),
    )
