"""Logging as the original (behaviour doc §6.2): a log file per start, errors on the console.

The file is `/var/log/dbsync2/<cid>_<YYYYMMDDhhmmss>.log`, else `~/.dbsync2/log/` (the original's
fallback dropped the campaign id; we keep it). `--v` logs everything to stdout instead. Every
handler carries a filter that blanks out secrets (the campaign token), whatever the message.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

DEFAULT_LOG_DIR = Path("/var/log/dbsync2")
# --l levels of the original: 0 CRITICAL, 1 ERROR, 2 WARNING, 3 NOTICE, 4 INFO, 5 DEBUG.
LEVELS = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}
LEVELS |= {4: logging.INFO, 5: logging.DEBUG}
_FORMAT = "%(asctime)s.%(msecs)03d %(filename)s:%(lineno)d %(levelname).4s ▶ %(message)s"
_DATEFMT = "%Y/%m/%d %H:%M:%S"


class SecretRedactor(logging.Filter):
    """Replaces every secret in a record's final message with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        """Redact these strings (empty ones are ignored)."""
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message if it contains a secret; never drops a record."""
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self._secrets:
            if secret in message or (record.exc_text and secret in record.exc_text):
                message = message.replace(secret, "***")
                if record.exc_text:
                    record.exc_text = record.exc_text.replace(secret, "***")
        record.msg, record.args = message, None
        return True


class ConsoleFilter(logging.Filter):
    """Lets a record opt out of the console with `extra={"console": False}`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep records unless they asked to stay off the console."""
        return bool(getattr(record, "console", True))


def open_log_file(campaign_id: str, log_dir: Path | None, started: datetime) -> Path:
    """Return a new log file path in the first writable directory (explicit, default, fallback)."""
    name = f"{campaign_id}_{started:%Y%m%d%H%M%S}.log"
    fallback = Path.home() / ".dbsync2" / "log"
    candidates = [log_dir] if log_dir is not None else [DEFAULT_LOG_DIR, fallback]
    last_error: OSError | None = None
    for directory in candidates:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / name
            path.touch(exist_ok=True)
            return path
        except OSError as exc:
            last_error = exc
    raise OSError(f"cannot create a log file in {', '.join(map(str, candidates))}: {last_error}")


def configure_logging(
    campaign_id: str,
    log_dir: Path | None,
    level: int,
    verbose: bool,
    secrets: Iterable[str],
    started: datetime,
) -> str:
    """Set up the root logger; return where logs go ('stdout' or the file path)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    redactor = SecretRedactor(secrets)
    formatter = logging.Formatter(_FORMAT, _DATEFMT)
    handlers: list[logging.Handler] = []
    if verbose:
        target = "stdout"
        main: logging.Handler = logging.StreamHandler(sys.stdout)
        main.setLevel(logging.DEBUG)
        root.setLevel(logging.DEBUG)
    else:
        path = open_log_file(campaign_id, log_dir, started)
        target = str(path)
        main = logging.FileHandler(path, encoding="utf-8")
        main.setLevel(LEVELS.get(level, logging.DEBUG))
        root.setLevel(main.level)
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.ERROR)
        console.addFilter(ConsoleFilter())
        handlers.append(console)
    handlers.append(main)
    for handler in handlers:
        handler.addFilter(redactor)
        handler.setFormatter(formatter)
        root.addHandler(handler)
    for noisy in ("urllib3", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return target
