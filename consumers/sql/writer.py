"""Write one batch of events to the database in one transaction, together with its offsets.

Guarantees: the rows of a batch and the group's next offsets (`{tp}dbsync_offsets`) commit in
the same transaction, so after a crash at any instant the batch is either wholly applied with its
offsets or not at all; the consumer resumes from the stored offsets. Rows are upserted with the
stale-write guard, so re-applying an already applied event changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from consumers.sql.classify import is_retryable
from consumers.sql.layout import TableLayout
from consumers.sql.pg_batch import PgCopyUpsert
from consumers.sql.rows import Row, RowSet, collect_rows
from consumers.sql.schema import SchemaManager
from consumers.sql.tables import ALL_TABLES, VERSION_COLUMN, ColumnKind
from consumers.sql.upsert import (
    MySqlValuesUpsert,
    NoLiteralError,
    build_offsets_upsert,
    build_upsert,
)
from consumers.sql.values import TruncationCounter, build_converter
from schemas import Event

log = logging.getLogger(__name__)

# PyMySQL's SERVER_STATUS_NO_BACKSLASH_ESCAPES: backslashes are literal, so no inlining.
_NO_BACKSLASH_ESCAPES = 512

# Logging every cut value would flood the log on a legacy varchar(50) table; log the running
# totals at most this often instead.
TRUNCATION_LOG_SECONDS = 60.0


class _TrialRollback(Exception):
    """Raised inside a trial write to roll it back."""


class BatchWriter:
    """Upserts the rows of a batch of events and the consumed offsets in one transaction."""

    def __init__(self, engine: sa.Engine, schema: SchemaManager, group_id: str) -> None:
        self._engine = engine
        self._schema = schema
        self._group_id = group_id
        self._statements: dict[str, tuple[TableLayout, Any]] = {}
        self._plans: dict[str, list[tuple[str, str, Callable[[Any], Any]]]] = {}
        # MySQL/MariaDB with PyMySQL: rows inlined as literals, converters in VALUES order.
        self._inline: dict[str, tuple[MySqlValuesUpsert, list[Callable[[Any], Any]], list[str]]]
        self._inline = {}
        self._offsets_stmt = build_offsets_upsert(schema.offsets, engine.dialect)
        self.truncations = TruncationCounter({})
        self._truncations_logged = 0.0
        self.rows_written = 0
        self.skipped_connections = 0

    def _statement(self, layout: TableLayout) -> Any:
        cached = self._statements.get(layout.spec.entity)
        if cached is None or cached[0] is not layout:
            statement: Any
            if self._engine.dialect.name == "postgresql":
                statement = PgCopyUpsert(layout, self._engine.dialect, self.truncations)
            else:
                statement = build_upsert(layout, self._engine.dialect)
            cached = (layout, statement)
            self._statements[layout.spec.entity] = cached
            self._plans[layout.spec.entity] = [
                (
                    info.key,
                    info.field,
                    build_converter(info.kind, info.max_length, info.column, self.truncations),
                )
                for info in layout.columns()
                if info.kind is not ColumnKind.VERSION
            ]
            self._inline.pop(layout.spec.entity, None)
            dialect = self._engine.dialect
            inline: MySqlValuesUpsert | None = None
            if dialect.name == "mysql" and dialect.driver == "pymysql":
                try:
                    inline = MySqlValuesUpsert(layout, dialect)
                except ValueError as exc:
                    log.info("rows of %s go through executemany: %s", layout.name, exc)
            if inline is not None:
                by_key = {info.key: info for info in layout.columns()}
                ordered = [by_key[key] for key in inline.keys]
                self._inline[layout.spec.entity] = (
                    inline,
                    [
                        build_converter(info.kind, info.max_length, info.column, self.truncations)
                        for info in ordered
                    ],
                    [info.field for info in ordered],
                )
        return cached[1]

    def _execute_inline(
        self, conn: sa.Connection, layout: TableLayout, rows: Sequence[Row]
    ) -> bool:
        """Upsert `rows` as inlined literals; return False (nothing done) if the server's
        sql_mode makes backslashes literal."""
        driver: Any = conn.connection.driver_connection
        if driver is None:
            raise sa.exc.InvalidRequestError("no driver connection")
        if driver.server_status & _NO_BACKSLASH_ESCAPES:
            return False
        inline, converters, fields = self._inline[layout.spec.entity]
        version_index = inline.keys.index(layout.fixed[VERSION_COLUMN].key)
        plan = list(zip(fields, converters, strict=True))
        values = []
        for row in rows:
            get = row.values.get
            converted = [convert(get(field)) for field, convert in plan]
            converted[version_index] = row.version
            values.append(converted)
        try:
            statements = inline.statements(values)
        except NoLiteralError:
            # A value only the driver renders (or rejects): same values, the driver's way.
            conn.execute(
                self._statement(layout), [dict(zip(inline.keys, v, strict=True)) for v in values]
            )
            return True
        dialect = self._engine.dialect
        dbapi: Any = dialect.dbapi
        try:
            with driver.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        except dbapi.Error as exc:
            lost = bool(dialect.is_disconnect(exc, driver, None))
            if lost:
                conn.invalidate(exc)
            # The statement text without the inlined values (no row data in error reports).
            raise sa.exc.DBAPIError.instance(
                inline.head + "...", None, exc, dbapi.Error, connection_invalidated=lost
            ) from exc
        return True

    def _params(self, layout: TableLayout, rows: Sequence[Row]) -> list[dict[str, Any]]:
        """Return one parameter dict per row: every column of the layout (absent -> NULL)."""
        self._statement(layout)
        plan = self._plans[layout.spec.entity]
        version_key = layout.fixed[VERSION_COLUMN].key
        out = []
        for row in rows:
            get = row.values.get
            params = {key: convert(get(field)) for key, field, convert in plan}
            params[version_key] = row.version
            out.append(params)
        return out

    def _apply(self, conn: sa.Connection, row_set: RowSet) -> int:
        written = 0
        for spec in ALL_TABLES:
            rows = row_set.for_table(spec)
            if not rows:
                continue
            layout = self._schema.layouts[spec.entity]
            statement = self._statement(layout)
            if isinstance(statement, PgCopyUpsert):
                statement.execute(conn, rows)
            elif spec.entity in self._inline and self._execute_inline(conn, layout, rows):
                pass
            else:
                conn.execute(statement, self._params(layout, rows))
            written += len(rows)
        return written

    def write(self, events: Sequence[Event], next_offsets: Mapping[tuple[str, int], int]) -> int:
        """Upsert the events' rows and store `next_offsets` in one transaction; return row count."""
        row_set = collect_rows(events)
        self._schema.ensure_custom_fields(row_set)
        with self._engine.begin() as conn:
            written = self._apply(conn, row_set)
            if next_offsets:
                conn.execute(
                    self._offsets_stmt,
                    [
                        {"group_id": self._group_id, "topic": t, "partition": p, "next_offset": o}
                        for (t, p), o in sorted(next_offsets.items())
                    ],
                )
        self.rows_written += written
        self.skipped_connections += row_set.skipped_connections
        self._log_truncations()
        return written

    def try_write(self, events: Sequence[Event]) -> BaseException | None:
        """Write the events in a transaction that is rolled back; return the deterministic error.

        Retryable errors propagate: an outage says nothing about the data.
        """
        try:
            row_set = collect_rows(events)
            self._schema.ensure_custom_fields(row_set)
            with self._engine.begin() as conn:
                self._apply(conn, row_set)
                raise _TrialRollback
        except _TrialRollback:
            return None
        except Exception as exc:
            if is_retryable(exc):
                raise
            return exc

    def find_failing(
        self, events: Sequence[Event], first_error: BaseException | None = None
    ) -> list[tuple[int, BaseException]]:
        """Return (index, error) for each event the database rejects, found by bisection.

        `first_error` is the error the whole batch already failed with (saves one trial).
        """

        def search(
            lo: int, hi: int, known: BaseException | None
        ) -> list[tuple[int, BaseException]]:
            error = known if known is not None else self.try_write(events[lo:hi])
            if error is None:
                return []
            if hi - lo == 1:
                return [(lo, error)]
            mid = (lo + hi) // 2
            return search(lo, mid, None) + search(mid, hi, None)

        return search(0, len(events), first_error)

    def read_offsets(self, topic: str) -> dict[int, int]:
        """Return the stored next offset of each partition of `topic` for this group."""
        table = self._schema.offsets
        query = sa.select(table.c.partition, table.c.next_offset).where(
            table.c.group_id == self._group_id, table.c.topic == topic
        )
        with self._engine.connect() as conn:
            return {int(p): int(o) for p, o in conn.execute(query)}

    def _log_truncations(self) -> None:
        counts = self.truncations.counts
        now = time.monotonic()
        if counts and now - self._truncations_logged >= TRUNCATION_LOG_SECONDS:
            self._truncations_logged = now
            log.warning("values cut to their column length so far (column: count): %s", counts)
