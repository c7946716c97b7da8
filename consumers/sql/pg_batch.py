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

from consumers.sql.layout import TableLayout
from consumers.sql.rows import Row
from consumers.sql.tables import VERSION_COLUMN, ColumnKind
from consumers.sql.values import TruncationCounter, build_converter, to_number, to_text
from schemas.native import compiled_or

# COPY text format escapes (PostgreSQL docs, "COPY ... Text Format").
# Value types whose text form needs no conversion beyond str() (bool is not int here).
_PLAIN_TEXT_TYPES = frozenset({str, int, type(None)})
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


def _format_number(value: Any) -> str:
    """Number column: ints and plain floats are already in the text form their Decimal has."""
    cls = value.__class__
    if cls is int:
        return str(value)
    if cls is float:
        text = repr(value)
        if "e" not in text and "n" not in text:  # no exponent, not nan/inf: str(Decimal(text))
            return text
    return format_copy_value(to_number(value))


def copy_cells_py(values: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    """Return the COPY text of `fields`' cells when all are plain, else None (format each cell).

    Plain: missing, None or "" (written as \\N), an int, or a str with nothing COPY must escape.
    The pure-Python twin of `consumers.sql._text_cells.copy_cells`.
    """
    if not fields:
        return ""
    cells = list(map(values.get, fields))
    if not set(map(type, cells)) <= _PLAIN_TEXT_TYPES:
        return None
    part = "\t".join(
        [
            (cell or "\\N") if cell.__class__ is str else ("\\N" if cell is None else str(cell))
            for cell in cells
        ]
    )
    # The only backslashes allowed are those of the \\N markers put in for None and "".
    if (
        part.count("\\") != cells.count(None) + cells.count("")
        or part.count("\t") != len(fields) - 1
        or "\n" in part
        or "\r" in part
    ):
        return None
    return part


CopyCells = Callable[[dict[str, Any], tuple[str, ...]], "str | None"]
copy_cells: CopyCells = compiled_or("consumers.sql._text_cells", "copy_cells", copy_cells_py)
COMPILED = copy_cells is not copy_cells_py


def build_copy_formatter(
    kind: ColumnKind, max_length: int | None, column: str, counter: TruncationCounter
) -> Callable[[Any], str]:
    """Return value -> COPY text for one column (conversion of values.py, then formatting)."""
    numeric = (ColumnKind.NUMBER, ColumnKind.BOOL, ColumnKind.VERSION)
    if kind not in numeric and max_length is None:
        return _format_text
    if kind is ColumnKind.NUMBER:
        return _format_number
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
        columns = layout.columns()
        self.keys = [info.key for info in columns]
        # COPY's column list need not follow the table: unbounded text columns come first, so a
        # row's text part is one join of its strings (see format_rows); the version comes last.
        numeric = (ColumnKind.NUMBER, ColumnKind.BOOL, ColumnKind.VERSION)
        free = [i for i in columns if i.kind not in numeric and i.max_length is None]
        versions = [i for i in columns if i.kind is ColumnKind.VERSION]
        rest = [i for i in columns if i not in free and i not in versions]
        if len(versions) != 1:
            raise ValueError(f"{layout.name} needs exactly one version column")
        self.text_fields = tuple(info.field for info in free)
        self.rest_plan = [
            (info.field, build_copy_formatter(info.kind, info.max_length, info.column, counter))
            for info in rest
        ]
        stage_name = f"dbsync_stage_{layout.spec.entity}"
        names = ", ".join(quote(info.column) for info in [*free, *rest, *versions])
        self.create = (
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(stage_name)} "
            f"(LIKE {quote(layout.name)}) ON COMMIT DROP"
        )
        self.copy = f"COPY {quote(stage_name)} ({names}) FROM STDIN"
        stage = sa.table(stage_name, *(sa.column(info.column) for info in columns))
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

    def format_rows(self, rows: Sequence[Row]) -> str:
        """Return the COPY text of `rows`, one line per row, columns in COPY's order."""
        text_fields = self.text_fields
        rest_plan = self.rest_plan
        lines: list[str] = []
        append = lines.append
        for row in rows:
            values = row.values
            get = values.get
            cells = [fmt(get(field)) for field, fmt in rest_plan]
            cells.append(str(row.version))
            if text_fields:
                # Common case: only strings, ints and None, nothing to escape: one join.
                part = copy_cells(values, text_fields)
                if part is None:
                    part = "\t".join([_format_text(get(field)) for field in text_fields])
                cells.insert(0, part)
            append("\t".join(cells))
        append("")
        return "\n".join(lines)

    def execute(self, conn: sa.Connection, copy_text: str) -> None:
        """Upsert rows given as `format_rows` text inside `conn`'s current transaction."""
        psycopg2: Any = importlib.import_module("psycopg2")  # no type stubs
        data = copy_text.encode()
        buffer = io.BytesIO(data)
        driver = conn.connection.driver_connection
        if driver is None:
            raise sa.exc.InvalidRequestError("no driver connection")
        try:
            with driver.cursor() as cursor:
                cursor.execute(self.create)
                # One read of the whole text: psycopg2 reads `size` bytes per call, and each call
                # takes the GIL back from the consumer loop (8 KiB reads stalled the COPY).
                cursor.copy_expert(self.copy, buffer, size=max(len(data), 8192))
                cursor.execute(self.upsert)
        except psycopg2.Error as exc:
            if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError):
                conn.invalidate(exc)
            raise sa.exc.DBAPIError.instance(
                self.upsert, None, exc, psycopg2.Error, connection_invalidated=conn.invalidated
            ) from exc
