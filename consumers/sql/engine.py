"""Build the target database's SQLAlchemy engine: pool, strict mode on MySQL, idle-only pings.

SQLAlchemy's `pool_pre_ping` costs a database round trip at every checkout, i.e. once per batch
(~8 % of the writer thread at 25k events/s). A connection that was handed back moments ago is
alive; the one that can be stale sat in the pool through an outage, a server restart or MySQL's
`wait_timeout`. So only a connection idle for longer than `IDLE_PING_SECONDS` is pinged at
checkout; a dead one is replaced before the batch uses it. A connection that dies while busy
fails its batch with a disconnect error, which is retryable, and the pool drops it.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from consumers.sql.settings import SqlSettings

IDLE_PING_SECONDS = 5.0
_CHECKED_IN_AT = "dbsync2_checked_in_at"


def build_engine(settings: SqlSettings) -> sa.Engine:
    """Return the SQLAlchemy engine for the target database (no connection is opened)."""
    backend = settings.url.get_backend_name()
    kwargs: dict[str, Any] = {} if backend == "sqlite" else {"pool_size": 2, "max_overflow": 2}
    if backend == "postgresql":
        # COPY text is sent as UTF-8 bytes; the server converts it to the database's encoding
        # (a LATIN1 database gets 'é', not 'Ã©'; a character it cannot store is an error).
        kwargs["connect_args"] = {"client_encoding": "utf8"}
    if backend == "mssql":
        kwargs["fast_executemany"] = True
    engine = sa.create_engine(settings.url, **kwargs)
    if backend != "sqlite":
        ping_idle_connections(engine, IDLE_PING_SECONDS)
    if backend == "mysql":

        @sa.event.listens_for(engine, "connect")
        def set_strict_mode(dbapi_connection: Any, _record: Any) -> None:
            # Strict mode: a value that does not fit is an error (dead letter), never silently cut.
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")

    return engine


def ping_idle_connections(engine: sa.Engine, idle_seconds: float) -> None:
    """Ping a pooled connection at checkout only when it sat unused for over `idle_seconds`."""
    dialect = engine.dialect

    @sa.event.listens_for(engine, "checkin")
    def note_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN_AT)
        if checked_in is None or time.monotonic() - checked_in <= idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out (or opens) another one.
            raise sa.exc.DisconnectionError(f"idle connection failed its ping: {exc}") from exc
