"""PostgreSQL bulk upsert: COPY the batch into a temporary table, then one INSERT .. SELECT ..
ON CONFLICT DO UPDATE .. WHERE (stale-write guard) into the real table.

SQLAlchemy 2 sends an `INSERT .. ON CONFLICT` executemany row by row through psycopg2; COPY moves
the rows in one stream at close to COPY's own speed, and the upsert then runs inside the server.
The temporary table is created per transaction (ON COMMIT DROP), so a rolled-back trial leaves
nothing behind. Driver errors are re-raised as SQLAlchemy DBAPIErrors (a lost connection also
invalidates it), so the error classifier sees the same exceptions as on the other paths.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from consumers.sql.rows import Row
from consumers.sql.schema import TableLayout
from consumers.sql.tables import VERSION_COLUMN, ColumnKind
from consumers.sql.values import TruncationCounter, build_converter, to_text

# COPY text format escapes (PostgreSQL docs, "COPY ... Text Format").
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def format_copy_value(value: Any) -> str:
    """Return one value in COPY's text format (NULL is \\N)."""
    if value is None:
        return "\\N"
    if value.__class__ is str:
        text = str(value)
        if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
            return text.translate(_COPY_ESCAPES)
        return text
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).translate(_COPY_ESCAPES)


def _format_text(value: Any) -> str:
    """Unbounded text column: convert and format in one step (the hot path)."""
    if value.__class__ is str:
        text = str(value)
        if not text:
            return "\\N"
        if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
            return text.translate(_COPY_ESCAPES)
        return text
    converted = to_text(value)
    return "\\N" if converted is None else converted.translate(_COPY_ESCAPES)


def build_copy_formatter(
    kind: ColumnKind, max_length: int | None, column: str, counter: TruncationCounter
) -> Callable[[Any], str]:
    """Return value -> COPY text for one column (conversion of values.py, then formatting)."""
    numeric = (ColumnKind.NUMBER, ColumnKind.BOOL, ColumnKind.VERSION)
    if kind not in numeric and max_length is None:
        return _format_text
    convert = build_converter(kind, max_length, column, counter)

    def format_value(value: Any) -> str:
        return format_copy_value(convert(value))

    return format_value


class PgCopyUpsert:
    """The COPY + INSERT .. SELECT upsert of one table layout."""

    def __init__(
        self, layout: TableLayout, dialect: sa.Dialect, counter: TruncationCounter
    ) -> None:
        def quote(name: str) -> str:
            # psycopg2's dialect doubles '%' for parameter formatting; these run without params.
            return dialect.identifier_preparer.quote(name).replace("%%", "%")

        table = layout.sa_table()
        self.keys = [info.key for info in layout.columns()]
        self.plan = [
            (info.field, build_copy_formatter(info.kind, info.max_length, info.column, counter))
            for info in layout.columns()
        ]
        self.version_index = [info.kind for info in layout.columns()].index(ColumnKind.VERSION)
        stage_name = f"dbsync_stage_{layout.spec.entity}"
        names = ", ".join(quote(info.column) for info in layout.columns())
        self.create = (
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(stage_name)} "
            f"(LIKE {quote(layout.name)}) ON COMMIT DROP"
        )
        self.copy = f"COPY {quote(stage_name)} ({names}) FROM STDIN"
        stage = sa.table(stage_name, *(sa.column(info.column) for info in layout.columns()))
        stmt = postgresql.insert(table).from_select(
            [table.c[k] for k in self.keys], sa.select(*stage.c)
        )
        pk = layout.primary().key
        version = layout.fixed[VERSION_COLUMN].key
        stored = table.c[version]
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[pk]],
            set_={k: stmt.excluded[k] for k in self.keys if k != pk},
            where=sa.or_(stored.is_(None), stored < stmt.excluded[version]),
        )
        self.upsert = str(stmt.compile(dialect=dialect)).replace("%%", "%")

    def execute(self, conn: sa.Connection, rows: Sequence[Row]) -> None:
        """Upsert `rows` (every column of the layout) inside `conn`'s current transaction."""
        psycopg2: Any = importlib.import_module("psycopg2")  # no type stubs
        plan = self.plan
        version_index = self.version_index
        buffer = io.StringIO()
        for row in rows:
            get = row.values.get
            cells = [fmt(get(field)) for field, fmt in plan]
            cells[version_index] = str(row.version)
            buffer.write("\t".join(cells))
            buffer.write("\n")
        buffer.seek(0)
        driver = conn.connection.driver_connection
        if driver is None:
            raise sa.exc.InvalidRequestError("no driver connection")
        try:
            with driver.cursor() as cursor:
                cursor.execute(self.create)
                cursor.copy_expert(self.copy, buffer)
                cursor.execute(self.upsert)
        except psycopg2.Error as exc:
            if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError):
                conn.invalidate(exc)
            raise sa.exc.DBAPIError.instance(
                self.upsert, None, exc, psycopg2.Error, connection_invalidated=conn.invalidated
            ) from exc
