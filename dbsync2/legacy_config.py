"""Turn legacy flag values into validated `LegacySettings`, in the original's check order.

Checks run as dbsync2 v1.15 ran them (§1.4): campaign id, token, mode, then the URL. Each failure
is a `UsageError` whose message is the one line printed on stderr before exiting 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dbsync2.legacy_flags import FLAGS_BY_NAME, UsageError, parse_bool, resolve_values
from dbsync2.urls import DatabaseUrl, check_webhook_url, parse_database_url

MODES = ("webhook", "db_init", "db_update", "db_sync")
DB_MODES = frozenset({"db_init", "db_update", "db_sync"})
FILTER_MODES = frozenset({"updates_only", "hi_updates_only"})
# db_update without --s looks back one week, as the original did (now - 168 h).
DB_UPDATE_LOOKBACK = timedelta(days=7)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?)?$")
_LEVEL_NAMES = {0: "CRITICAL", 1: "ERROR", 2: "WARNING", 3: "INFO", 4: "INFO", 5: "DEBUG"}


@dataclass(frozen=True)
class LegacySettings:
    """Everything one legacy run needs; `token` and `url` are never shown in repr or logs."""

    mode: str
    campaign_id: str
    token: str = field(repr=False)
    url: str = field(repr=False)
    start: str | None
    filter_mode: str | None
    task_prefixes: tuple[str, ...]
    table_prefix: str
    workers: int
    db_connections: int
    log_level: str
    verbose: bool
    profiling: bool
    webhook_rate: int
    webhook_burst: int
    kafka_bootstrap: str
    kafka_timeout: float
    poll_interval: float
    api_url: str
    state_dir: Path | None
    log_dir: Path | None
    database: DatabaseUrl | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def is_database_mode(self) -> bool:
        return self.mode in DB_MODES

    @property
    def ends_by_itself(self) -> bool:
        """db_init and db_update stop once everything they published is materialized."""
        return self.mode in {"db_init", "db_update"}


def _parse_int(name: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise UsageError(f"Invalid value for --{name}: {text!r} (expected an integer)") from None


def _parse_positive_float(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise UsageError(f"Invalid value for --{name}: {text!r} (expected seconds > 0)")
    return value


def _read_token(values: Mapping[str, str], given: frozenset[str], env: Mapping[str, str]) -> str:
    """--ct, else --ct-file, else DBSYNC_CT, else DBSYNC_CT_FILE (flags beat the environment)."""
    if "ct" in given:
        return values["ct"].strip()
    token_file = values["ct-file"] if "ct-file" in given else ""
    if not token_file and not env.get("DBSYNC_CT"):
        token_file = env.get("DBSYNC_CT_FILE", "")
    if not token_file:
        return values["ct"].strip()
    try:
        return Path(token_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(
            f"Cannot read the campaign token file {token_file}: {exc.strerror}"
        ) from None


def _start_date(mode: str, text: str, now: datetime) -> str | None:
    if text:
        if not _DATE.match(text):
            raise UsageError(f"Invalid start date (--s): {text!r}; use 2018-02-01[T15:04:05]")
        return text.rstrip("Z")
    if mode == "db_update":
        return (now - DB_UPDATE_LOOKBACK).strftime("%Y-%m-%d")
    return None


def _log_level(values: Mapping[str, str], verbose: bool) -> str:
    if verbose:
        return "DEBUG"
    # Outside 0..5 the original left the level unset, which its logger treats as DEBUG.
    return _LEVEL_NAMES.get(_parse_int("l", values["l"]), "DEBUG")


def build_settings(
    argv: Sequence[str], environ: Mapping[str, str], now: datetime | None = None
) -> LegacySettings:
    """Return validated settings for a legacy run, or raise UsageError with the one-line reason."""
    values, given = resolve_values(argv, environ)
    now = now or datetime.now(UTC)
    campaign_id = values["c"].strip()
    if not campaign_id:
        raise UsageError("Campaign ID (--c) is required")
    token = _read_token(values, given, environ)
    if not token:
        raise UsageError("Campaign token (--ct) is required")
    mode = values["a"].strip()
    if mode not in MODES:
        raise UsageError(f"Invalid mode: {mode}")
    url = values["url"].strip()
    database = parse_database_url(url) if mode in DB_MODES else None
    if database is None:
        check_webhook_url(url)
    warnings: list[str] = []
    filter_mode = values["fm"].strip() or None
    if filter_mode is not None and filter_mode not in FILTER_MODES:
        # The original silently ignored other values; say so instead of guessing.
        warnings.append(f"ignoring unknown filter mode --fm {filter_mode!r}")
        filter_mode = None
    verbose = parse_bool("v", values["v"])
    if parse_bool("p", values["p"]):
        warnings.append("--p (the Go pprof server) is accepted and ignored")
    webhook_rate = _parse_int("wr", values["wr"])
    webhook_rate = webhook_rate if webhook_rate > 0 else 5
    webhook_burst = _parse_int("wb", values["wb"])
    workers = _parse_int("w", values["w"])
    db_connections = _parse_int("d", values["d"])
    if workers < 1 or db_connections < 1:
        raise UsageError("--w and --d must be at least 1")
    state_dir = values["state-dir"].strip()
    log_dir = values["log-dir"].strip()
    return LegacySettings(
        mode=mode,
        campaign_id=campaign_id,
        token=token,
        url=url,
        start=_start_date(mode, values["s"].strip(), now),
        filter_mode=filter_mode,
        task_prefixes=tuple(p.strip() for p in values["fp"].split(",") if p.strip()),
        table_prefix=values["tp"].strip(),
        workers=workers,
        db_connections=db_connections,
        log_level=_log_level(values, verbose),
        verbose=verbose,
        profiling=parse_bool("p", values["p"]),
        webhook_rate=webhook_rate,
        webhook_burst=webhook_burst if webhook_burst > 0 else 2 * webhook_rate,
        kafka_bootstrap=values["kafka"].strip() or FLAGS_BY_NAME["kafka"].default,
        kafka_timeout=_parse_positive_float("kafka-timeout", values["kafka-timeout"]),
        poll_interval=_parse_positive_float("poll-interval", values["poll-interval"]),
        api_url=values["api-url"].strip().rstrip("/"),
        state_dir=Path(state_dir).expanduser() if state_dir else None,
        log_dir=Path(log_dir).expanduser() if log_dir else None,
        database=database,
        warnings=tuple(warnings),
    )
