"""Check `--url` values (database or webhook) and render them without their password.

The original logged the whole database URL, password included (W16), and panicked on an empty or
colon-less URL (W15). Here a URL is only ever shown through `redact_url`, and a bad one is a
one-line usage error.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from dbsync2.legacy_flags import UsageError

# Schemes the original accepted, plus the SQLAlchemy spellings and SQLite (the embedded default).
DB_SCHEMES = frozenset(
    {"mysql", "mariadb", "postgres", "postgresql", "sqlserver", "mssql", "sqlite"}
)


@dataclass(frozen=True)
class DatabaseUrl:
    """A database URL split far enough to validate it; `raw` goes to the SQL consumer as is."""

    raw: str
    dialect: str
    host: str
    database: str


def redact_url(url: str) -> str:
    """Return `url` with any password and every query value replaced by `***`.

    User names, hosts, paths and query keys stay visible; query values are hidden because
    webhook URLs often carry a token there (`?token=...`).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    if "@" in rest:
        userinfo, _, host = rest.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        rest = f"{user}{':***' if colon else ''}@{host}"
    base, question, query = rest.partition("?")
    if question:
        keys = [part.partition("=")[0] for part in query.split("&") if part]
        base += "?" + "&".join(f"{key}=***" for key in keys)
    return f"{scheme}://{base}"


def parse_database_url(url: str) -> DatabaseUrl:
    """Validate a database `--url` (original forms and SQLAlchemy forms) or raise UsageError."""
    if not url.strip():
        raise UsageError("Database URL (--url) is required")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise UsageError(f"Invalid database URL {redact_url(url)!r}: expected <driver>://...")
    dialect = scheme.split("+", 1)[0].lower()
    if dialect not in DB_SCHEMES:
        raise UsageError(f"Invalid database driver '{scheme}'")
    path_part = rest.split("?", 1)[0]
    if dialect == "sqlite":
        database = path_part.lstrip("/") if path_part.startswith("/") else ""
        if not database:
            raise UsageError("SQLite URL needs a file: sqlite:///path/to/file.sqlite")
        return DatabaseUrl(raw=url, dialect=dialect, host="", database=database)
    hostpart = path_part.rpartition("@")[2]
    host, slash, path = hostpart.partition("/")
    if not host:
        raise UsageError(f"Invalid database URL {redact_url(url)!r}: the host is missing")
    database = path.rstrip("/").rpartition("/")[2] if slash else ""
    if not database:
        raise UsageError("Database name is required")
    return DatabaseUrl(raw=url, dialect=dialect, host=host, database=database)


def check_webhook_url(url: str) -> str:
    """Return `url` when it is an absolute http(s) URL with a host, else raise UsageError."""
    if not url.strip():
        raise UsageError("Webhook URL (--url) is required")
    try:
        parts = urlsplit(url)
        has_host = bool(parts.hostname)
    except ValueError:
        has_host = False
        parts = urlsplit("")
    if parts.scheme not in {"http", "https"} or not has_host:
        raise UsageError(f"Invalid webhook URL {redact_url(url)!r}: expected http(s)://host/...")
    return url
