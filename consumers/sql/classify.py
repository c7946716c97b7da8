"""Classify database exceptions: an outage to retry, or a deterministic failure of the data.

Retryable (pause and retry, never dead-letter): lost or refused connections, deadlocks,
serialization failures, lock timeouts, server shutdown, "database is locked" (SQLite), and any
OperationalError we do not know better. Deterministic (isolate the event, dead-letter it): the
database rejected a value or a constraint (DataError, IntegrityError, ProgrammingError, MySQL data
error codes) or the value could not even be bound (StatementError without a DBAPI error,
ValueError, TypeError).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from consumers.sql.urls import redact_secret

# MySQL/MariaDB error codes that PyMySQL reports as OperationalError/InternalError but that are
# about the data: incorrect value, out of range, too long, NOT NULL, truncated, bad date.
MYSQL_DATA_ERRORS = frozenset({1048, 1054, 1062, 1264, 1265, 1292, 1366, 1406, 1416, 3140})
# SQLSTATE classes that are transient on PostgreSQL: connection (08), transaction rollback such
# as serialization failure/deadlock (40), insufficient resources (53), operator intervention (57).
PG_RETRYABLE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


def _driver_code(orig: Any) -> tuple[str | None, int | None]:
    pgcode = getattr(orig, "pgcode", None)
    args = getattr(orig, "args", ())
    mysql_code = args[0] if args and isinstance(args[0], int) else None
    return (pgcode if isinstance(pgcode, str) else None), mysql_code


def is_retryable(exc: BaseException) -> bool:
    """Return True when `exc` means the database is unavailable rather than the data is bad."""
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        pgcode, mysql_code = _driver_code(exc.orig)
        if pgcode is not None:
            return pgcode[:2] in PG_RETRYABLE_CLASSES or pgcode == "XX000"
        if mysql_code is not None and mysql_code in MYSQL_DATA_ERRORS:
            return False
        if isinstance(exc, sa.exc.DataError | sa.exc.IntegrityError | sa.exc.ProgrammingError):
            return False
        return isinstance(
            exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.InternalError
        ) or not isinstance(exc, sa.exc.DatabaseError)
    if isinstance(exc, sa.exc.StatementError | ValueError | TypeError | OverflowError):
        return False
    return isinstance(exc, sa.exc.SQLAlchemyError | OSError | ConnectionError)


# Start-up errors that waiting will not fix: wrong credentials, unknown database, no privilege.
MYSQL_CONFIG_ERRORS = frozenset({1044, 1045, 1049, 1142, 1227, 1698})
PG_CONFIG_MARKERS = ("authentication failed", "does not exist", "permission denied", "no password")


def is_configuration_error(exc: BaseException) -> bool:
    """Return True for errors that retrying cannot fix (credentials, database name, rights)."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    pgcode, mysql_code = _driver_code(exc.orig)
    if pgcode is not None:
        return pgcode[:2] in ("28", "3D", "42")
    if mysql_code is not None:
        return mysql_code in MYSQL_CONFIG_ERRORS
    message = str(exc.orig).lower()
    return any(marker in message for marker in PG_CONFIG_MARKERS)


def describe_error(exc: BaseException, secret: str | None) -> tuple[str, str]:
    """Return (error class, message) for logs and dead letters: no statement, no password."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        orig = exc.orig
        name = f"{type(exc).__name__}/{type(orig).__module__}.{type(orig).__name__}"
        message = str(orig)
    elif isinstance(exc, sa.exc.StatementError) and exc.orig is not None:
        name = f"{type(exc).__name__}/{type(exc.orig).__name__}"
        message = str(exc.orig)
    else:
        name, message = type(exc).__name__, str(exc)
    return name, redact_secret(message.strip(), secret)[:1000]
