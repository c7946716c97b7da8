"""Run one validated legacy invocation: logging, start-up checks, signals, summary, exit code.

Exit 0: db_init/db_update materialized everything; db_sync/webhook stopped by SIGTERM/SIGINT.
Exit 1: a one-line reason on stderr, never a traceback (the traceback goes to the log file).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType

from dbsync2.legacy_config import LegacySettings
from dbsync2.pipeline import LegacyPipeline, PipelineFailed
from dbsync2.preflight import StartupError, check_database, check_dialfire, check_kafka
from dbsync2.urls import redact_url

log = logging.getLogger("dbsync2")

SYSTEM_LOG_DIR = Path("/var/log/dbsync2")
_FORMAT = "%(asctime)s.%(msecs)03d %(name)s %(levelname)s %(message)s"
# Log records carrying this attribute are already shown to the user as the final one-line reason.
_QUIET = "dbsync2_quiet_console"


def _not_quiet(record: logging.LogRecord) -> bool:
    return not getattr(record, _QUIET, False)


class OneLineFormatter(logging.Formatter):
    """Console format: the message only, never a traceback (that goes to the log file)."""

    def format(self, record: logging.LogRecord) -> str:
        """Return `LEVEL message` for the first line of the message."""
        lines = record.getMessage().splitlines() or [""]
        return f"{record.levelname} {lines[0]}"


class SecretFilter(logging.Filter):
    """Replace the token and the database password in every record (defence in depth, W16)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 3]

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message with every secret replaced by ***."""
        if self._secrets:
            text = record.getMessage()
            for secret in self._secrets:
                text = text.replace(secret, "***")
            record.msg, record.args = text, None
        return True


def url_secrets(url: str) -> list[str]:
    """Return the password and the query values of a URL: what logs must never show."""
    rest = url.partition("://")[2]
    userinfo = rest.rpartition("@")[0]
    query = rest.partition("?")[2]
    values = [part.partition("=")[2] for part in query.split("&") if "=" in part]
    return [userinfo.partition(":")[2], *values]


def choose_log_file(
    campaign_id: str, log_dir: Path | None = None, now: datetime | None = None
) -> Path | None:
    """Return `<dir>/<cid>_<ts>.log`: --log-dir, else /var/log/dbsync2, else ~/.dbsync2/log."""
    stamp = (now or datetime.now().astimezone()).strftime("%Y%m%d%H%M%S")
    safe_cid = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in campaign_id)
    fallback = Path.home() / ".dbsync2" / "log"  # read $HOME only when a run starts
    for directory in (log_dir,) if log_dir is not None else (SYSTEM_LOG_DIR, fallback):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"{safe_cid}_{stamp}.log"
            path.touch()
            return path
        except OSError:
            continue
    return None


def configure_logging(settings: LegacySettings) -> str:
    """Send logs to stdout (--v) or a log file, errors always to stderr; return where logs go."""
    root = logging.getLogger()
    root.setLevel(settings.log_level)
    formatter = logging.Formatter(_FORMAT, datefmt="%Y/%m/%d %H:%M:%S")
    errors = logging.StreamHandler(sys.stderr)
    errors.setLevel(logging.ERROR)
    errors.setFormatter(OneLineFormatter())
    errors.addFilter(_not_quiet)
    main: logging.Handler
    if settings.verbose:
        main, where = logging.StreamHandler(sys.stdout), "stdout"
    else:
        path = choose_log_file(settings.campaign_id, settings.log_dir)
        if path is None:
            main, where = logging.StreamHandler(sys.stderr), "stderr"
        else:
            main, where = logging.FileHandler(path, encoding="utf-8"), str(path)
    main.setFormatter(formatter)
    secrets = SecretFilter([settings.token, *url_secrets(settings.url)])
    for handler in (main, errors):
        handler.addFilter(secrets)
    root.handlers = [main] if settings.verbose else [main, errors]
    # librdkafka and urllib3 chatter is useful only when debugging the transport itself.
    for noisy in ("urllib3", "confluent_kafka"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
    return where


def install_stop_handlers(stop: threading.Event) -> None:
    """Set `stop` on SIGTERM, SIGINT, SIGHUP and SIGQUIT (the original's four signals)."""

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received signal %d, stopping", signum)
        stop.set()

    for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _on_signal)


def run_preflight(settings: LegacySettings) -> None:
    """Check the database (db modes, first, as the original did), Kafka, then the token."""
    if settings.is_database_mode:
        check_database(settings.url)
    check_kafka(settings.kafka_bootstrap, settings.kafka_timeout)
    check_dialfire(settings)


def run_settings(settings: LegacySettings, stop: threading.Event | None = None) -> int:
    """Run a legacy mode to its end; return the process exit code."""
    where = configure_logging(settings)
    print(f"Logfile: {where}", flush=True)
    for warning in settings.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    target = redact_url(settings.url)
    log.info("mode %s, campaign %s, target %s", settings.mode, settings.campaign_id, target)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        install_stop_handlers(stop)
    try:
        run_preflight(settings)
        from dbsync2.components import build_parts

        parts = build_parts(settings)
        pipeline = LegacyPipeline(parts, settings.kafka_bootstrap, settings.mode, sys.stdout)
        if settings.ends_by_itself:
            summary = pipeline.run_load(stop)
            print(summary.render(), flush=True)
        else:
            print(f"{settings.mode}: campaign {settings.campaign_id} -> {target}", flush=True)
            pipeline.run_live(stop)
            print(f"{settings.mode}: stopped cleanly", flush=True)
    except (StartupError, PipelineFailed) as exc:
        log.error("%s", exc, extra={_QUIET: True})
        print(mask_secrets(str(exc), settings), file=sys.stderr)
        return 1
    except Exception as exc:  # last resort: one line for the user, the traceback in the log
        log.critical("unexpected failure", exc_info=True, extra={_QUIET: True})
        line = f"dbsync2 failed: {type(exc).__name__}: {exc}".splitlines()[0]
        print(mask_secrets(line, settings), file=sys.stderr)
        return 1
    return 0


def mask_secrets(text: str, settings: LegacySettings) -> str:
    """Return `text` with the token, the URL's password and its query values replaced by ***."""
    for secret in (settings.token, *url_secrets(settings.url)):
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text
