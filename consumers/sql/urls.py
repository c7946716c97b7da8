"""Parse dbsync2 database URLs into SQLAlchemy URLs, and keep the password out of every text.

Accepted forms (behaviour doc §4.1, fixing W15):
- `mysql://u:p@h:3306/db?useSSL=false`, `mariadb://...` -> mysql+pymysql, charset utf8mb4
- `postgres://u:p@h:5432/db?sslmode=disable`, `postgresql://...` -> postgresql+psycopg2
- `sqlserver://u:p@h:1433/instance/db` -> mssql+pyodbc (instance is ignored when a port is given,
  as SQL Server's browser is bypassed; `?driver=` picks the ODBC driver)
- SQLAlchemy URLs with a driver (`postgresql+psycopg2://`, `mysql+pymysql://`, `mssql+pyodbc://`)
- `sqlite:///path` (and `sqlite://` for in-memory)
The credentials end at the LAST '@' before the host, and the password starts after the first ':',
so passwords may contain '@', '/', ':' and '?'. Percent-escapes in user and password are decoded
(write a literal '%' as '%25'). Parameters that only JDBC/Go drivers know (`useSSL`, ...) are
dropped because PyMySQL and psycopg2 reject unknown keywords.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

import sqlalchemy as sa
from sqlalchemy.engine import URL

DRIVERS = {
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "postgres": "postgresql+psycopg2",
    "postgresql": "postgresql+psycopg2",
    "sqlserver": "mssql+pyodbc",
    "mssql": "mssql+pyodbc",
}
DROPPED_PARAMS = frozenset(
    {"useSSL", "useUnicode", "characterEncoding", "serverTimezone", "allowPublicKeyRetrieval"}
)
DEFAULT_ODBC_DRIVER = "ODBC Driver 18 for SQL Server"


class DatabaseUrlError(ValueError):
    """A database URL that cannot be understood (the message never contains the password)."""


def redact_secret(text: str, secret: str | None) -> str:
    """Return `text` with every occurrence of `secret` replaced by '***'."""
    if not secret:
        return text
    return text.replace(secret, "***")


def _split_authority(rest: str) -> tuple[str | None, str | None, str]:
    """Split 'user:pass@host...' at the last '@' that precedes the host part."""
    at = rest.rfind("@")
    if at < 0:
        return None, None, rest
    userinfo, hostpart = rest[:at], rest[at + 1 :]
    user, sep, password = userinfo.partition(":")
    return unquote(user), (unquote(password) if sep else None), hostpart


def _split_host(hostpart: str) -> tuple[str, int | None, list[str], str]:
    """Split 'host:port/path/segments?query'."""
    location, _, query = hostpart.partition("?")
    hostport, _, path = location.partition("/")
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = hostport.partition(":")
    try:
        port = int(port_text) if port_text else None
    except ValueError as exc:
        raise DatabaseUrlError(f"invalid port {port_text!r} in the database URL") from exc
    segments = [unquote(s) for s in path.split("/") if s]
    return host, port, segments, query


def parse_database_url(raw: str) -> URL:
    """Return the SQLAlchemy URL for a dbsync2 or SQLAlchemy database URL."""
    text = raw.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise DatabaseUrlError("the database URL must look like <dbms>://user:password@host/db")
    scheme_lower = scheme.lower()
    if scheme_lower.startswith("sqlite"):
        return sa.make_url(text)
    base = scheme_lower.split("+", 1)[0]
    if base not in DRIVERS:
        raise DatabaseUrlError(f"unsupported database kind {scheme!r} (mysql, postgres, sqlserver)")
    drivername = scheme_lower if "+" in scheme_lower else DRIVERS[base]
    user, password, hostpart = _split_authority(rest)
    host, port, segments, query_text = _split_host(hostpart)
    query = {k: v for k, v in parse_qsl(query_text, keep_blank_values=True)}
    query = {k: v for k, v in query.items() if k not in DROPPED_PARAMS}
    database = segments[-1] if segments else None
    if drivername.startswith("mysql"):
        query.setdefault("charset", "utf8mb4")
    if drivername.startswith("mssql"):
        if len(segments) >= 2 and port is None:
            host = f"{host}\\{segments[0]}"
        if "odbc_connect" not in query:
            query.setdefault("driver", DEFAULT_ODBC_DRIVER)
            query.setdefault("TrustServerCertificate", "yes")
    return URL.create(
        drivername,
        username=user or None,
        password=password,
        host=host or None,
        port=port,
        database=database,
        query=query,
    )


def describe_url(url: URL) -> str:
    """Return the URL as text for logs, password hidden."""
    return url.render_as_string(hide_password=True)
