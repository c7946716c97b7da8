"""Each table layout's write statement, and a batch's rows rendered for it, ready to execute.

Rendering (converting values, COPY text on PostgreSQL, inlined literals on MariaDB/MySQL) needs
no database, so the consumer loop can render batch N+1 while the writer thread executes batch N
(`BatchWriter.prepare`). Statements are cached per table until its layout changes (a new custom
field); a rendered table keeps the statement it was rendered for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from consumers.sql.layout import ColumnInfo, TableLayout
from consumers.sql.mysql_batch import MySqlValuesUpsert, NoLiteralError
from consumers.sql.pg_batch import PgCopyUpsert
from consumers.sql.rows import Row
from consumers.sql.tables import VERSION_COLUMN, ColumnKind
from consumers.sql.upsert import build_upsert
from consumers.sql.values import TruncationCounter, build_converter

log = logging.getLogger(__name__)

# PyMySQL's SERVER_STATUS_NO_BACKSLASH_ESCAPES: backslashes are literal, so no inlining.
_NO_BACKSLASH_ESCAPES = 512


@dataclass(frozen=True)
class LayoutStatements:
    """Everything built for one table layout: the upsert, the executemany plan, the inliner.

    Immutable and handed around whole, so a rendering and its execution always use the parts
    of one layout, even while another thread builds those of a newer layout.
    """

    layout: TableLayout
    statement: Any
    plan: list[tuple[str, str, Callable[[Any], Any]]]  # (bind key, field, converter)
    inline: MySqlValuesUpsert | None

    def params(self, rows: Sequence[Row]) -> list[dict[str, Any]]:
        """Return one parameter dict per row: every column of the layout (absent -> NULL)."""
        version_key = self.layout.fixed[VERSION_COLUMN].key
        out = []
        for row in rows:
            get = row.values.get
            params = {key: convert(get(field)) for key, field, convert in self.plan}
            params[version_key] = row.version
            out.append(params)
        return out


@dataclass(frozen=True)
class RenderedTable:
    """One table's rows of a batch, rendered for the statements of the layout they were built on."""

    built: LayoutStatements
    rows: list[Row]
    copy_text: str | None = None  # PostgreSQL: the rows as COPY text
    inline: list[str] | None = None  # PyMySQL: the upserts with the rows inlined

    @property
    def layout(self) -> TableLayout:
        """The table layout the rows were rendered for."""
        return self.built.layout


class StatementCache:
    """Builds, caches and executes the upsert of each table layout."""

    def __init__(self, dialect: sa.Dialect, truncations: TruncationCounter) -> None:
        self._dialect = dialect
        self._truncations = truncations
        self._built: dict[str, LayoutStatements] = {}

    def for_layout(self, layout: TableLayout) -> LayoutStatements:
        """Return the statements of `layout` (built once per layout, any thread)."""
        cached = self._built.get(layout.spec.entity)
        if cached is not None and cached.layout is layout:
            return cached
        statement: Any
        if self._dialect.name == "postgresql":
            statement = PgCopyUpsert(layout, self._dialect, self._truncations)
        else:
            statement = build_upsert(layout, self._dialect)
        plan = [
            (info.key, info.field, self._converter(info))
            for info in layout.columns()
            if info.kind is not ColumnKind.VERSION
        ]
        inline = None
        if self._dialect.name == "mysql" and self._dialect.driver == "pymysql":
            try:
                inline = MySqlValuesUpsert(layout, self._dialect, self._converter)
            except ValueError as exc:
                log.info("rows of %s go through executemany: %s", layout.name, exc)
        built = LayoutStatements(layout, statement, plan, inline)
        self._built[layout.spec.entity] = built
        return built

    def _converter(self, info: ColumnInfo) -> Callable[[Any], Any]:
        return build_converter(info.kind, info.max_length, info.column, self._truncations)

    def params(self, layout: TableLayout, rows: Sequence[Row]) -> list[dict[str, Any]]:
        """Return one parameter dict per row for `layout`'s statement (absent -> NULL)."""
        return self.for_layout(layout).params(rows)

    def render(self, layout: TableLayout, rows: list[Row]) -> RenderedTable:
        """Render `rows` for `layout`'s statement (no database needed)."""
        built = self.for_layout(layout)
        statement = built.statement
        if isinstance(statement, PgCopyUpsert):
            return RenderedTable(built, rows, copy_text=statement.format_rows(rows))
        if built.inline is None:
            return RenderedTable(built, rows)
        noted = dict(self._truncations.pending())
        try:
            statements = built.inline.render(rows)
        except NoLiteralError:
            self._truncations.restore(noted)  # executemany converts (and counts) these rows
            # A value only the driver renders (or rejects): executemany, the driver's way.
            return RenderedTable(built, rows)
        return RenderedTable(built, rows, inline=statements)

    def execute(self, conn: sa.Connection, table: RenderedTable) -> None:
        """Upsert a rendered table inside `conn`'s current transaction."""
        statement = table.built.statement
        if isinstance(statement, PgCopyUpsert) and table.copy_text is not None:
            statement.execute(conn, table.copy_text)
        elif table.inline is None or not self._execute_inline(conn, table):
            noted = dict(self._truncations.pending())
            params = table.built.params(table.rows)
            if table.inline is not None:  # rendering inline already noted these rows' cuts
                self._truncations.restore(noted)
            conn.execute(statement, params)

    def _execute_inline(self, conn: sa.Connection, table: RenderedTable) -> bool:
        """Run the inlined upserts; return False (nothing done) if the server's sql_mode makes
        backslashes literal."""
        driver: Any = conn.connection.driver_connection
        if driver is None:
            raise sa.exc.InvalidRequestError("no driver connection")
        if driver.server_status & _NO_BACKSLASH_ESCAPES:
            return False
        dbapi: Any = self._dialect.dbapi
        try:
            with driver.cursor() as cursor:
                for statement in table.inline or ():
                    cursor.execute(statement)
        except dbapi.Error as exc:
            lost = bool(self._dialect.is_disconnect(exc, driver, None))
            if lost:
                conn.invalidate(exc)
            # The statement text up to VALUES: no row data in error reports.
            head = table.built.inline.head + "..." if table.built.inline else "INSERT ..."
            raise sa.exc.DBAPIError.instance(
                head, None, exc, dbapi.Error, connection_invalidated=lost
            ) from exc
        return True
