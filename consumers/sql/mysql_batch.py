"""MariaDB/MySQL bulk upsert: the layout's INSERT .. ON DUPLICATE KEY UPDATE, rows inlined.

PyMySQL's executemany packs rows into multi-row statements too, but renders every value through
several Python calls (escape, escape_item, encoder lookup, ...) after SQLAlchemy built a dict per
row. Here the text columns come first in the INSERT's column list, so a row's text cells are one
`mysql_cells` call (compiled in `_text_cells.c`; `mysql_cells_py` where no compiler was found);
numbers and flags follow, the version last. A row with a text that needs escaping, cutting to its
column or converting is rendered cell by cell, exactly as PyMySQL would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from consumers.sql.layout import ColumnInfo, TableLayout
from consumers.sql.rows import Row
from consumers.sql.tables import VERSION_COLUMN, ColumnKind
from consumers.sql.upsert import on_duplicate_key
from consumers.sql.values import to_number
from schemas.native import compiled_or

# MySQL string literal escapes (MySQL manual, "String Literals"): what the driver escapes too.
_MYSQL_ESCAPES = str.maketrans(
    {"\0": "\\0", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z", "'": "\\'", '"': '\\"'}
)
# Keep each statement near the driver's own executemany packing (1 MB).
MYSQL_STATEMENT_BYTES = 1_000_000


class NoLiteralError(ValueError):
    """A value has no inline literal here: let the driver render (or reject) the batch."""


def mysql_literal(value: Any) -> str:
    """Return a converted column value as a MySQL literal, as PyMySQL would render it."""
    cls = value.__class__
    if cls is str:
        escaped: str = value.translate(_MYSQL_ESCAPES)
        return "'" + escaped + "'"
    if value is None:
        return "NULL"
    if cls is bool:
        return "1" if value else "0"
    if cls is int:
        return str(value)
    if cls is Decimal and value.is_finite():
        text: str = format(value, "f")
        return text
    raise NoLiteralError(f"no MySQL literal for {value!r}")


def mysql_cells_py(
    values: dict[str, Any], fields: tuple[str, ...], limits: tuple[int, ...]
) -> str | None:
    """Return the fields' cells as MySQL literals when all are plain, else None (per cell).

    Plain: missing, None or "" (NULL), an int, or a str within its column's length (-1: any)
    with nothing to escape. The pure-Python twin of `consumers.sql._text_cells.mysql_cells`.
    """
    cells: list[str] = []
    for field, limit in zip(fields, limits, strict=True):
        value = values.get(field)
        if value is None or (value.__class__ is str and not value):
            cells.append("NULL")
            continue
        if value.__class__ is int:
            value = str(value)
        elif value.__class__ is not str:
            return None
        if 0 <= limit < len(value) or value.translate(_MYSQL_ESCAPES) != value:
            return None
        cells.append("'" + value + "'")
    return ",".join(cells)


MySqlCells = Callable[[dict[str, Any], tuple[str, ...], tuple[int, ...]], "str | None"]
mysql_cells: MySqlCells = compiled_or("consumers.sql._text_cells", "mysql_cells", mysql_cells_py)


def number_literal(value: Any) -> str:
    """Return a number column's literal: ints and plain floats are already their Decimal text."""
    cls = value.__class__
    if cls is int:
        return str(value)
    if cls is float:
        text = repr(value)
        if "e" not in text and "n" not in text:  # no exponent, not nan/inf
            return text
    return mysql_literal(to_number(value))


class MySqlValuesUpsert:
    """The INSERT .. ON DUPLICATE KEY UPDATE of one layout, with rows rendered as literals."""

    def __init__(
        self,
        layout: TableLayout,
        dialect: sa.Dialect,
        converter: Callable[[ColumnInfo], Callable[[Any], Any]],
    ) -> None:
        text = str(on_duplicate_key(layout).compile(dialect=dialect))
        columns = layout.columns()  # the table's column order, as compiled
        quote = dialect.identifier_preparer.quote
        if dialect.paramstyle == "format":
            marks = ["%s"] * len(columns)
        elif dialect.paramstyle == "pyformat":
            marks = [f"%({info.key})s" for info in columns]
        else:
            raise ValueError(f"no inlined values for paramstyle {dialect.paramstyle}")
        placeholders = " VALUES (" + ", ".join(marks) + ")"
        if text.count(placeholders) != 1:
            raise ValueError("unexpected upsert text for inlined values")
        head, tail = text.split(placeholders)

        def insert_into(order: list[ColumnInfo]) -> str:
            names = ", ".join(quote(info.column) for info in order)
            return f"INSERT INTO {quote(layout.name)} ({names})"

        if head != insert_into(columns):
            raise ValueError("unexpected INSERT head for inlined values")
        numeric = (ColumnKind.NUMBER, ColumnKind.BOOL, ColumnKind.VERSION)
        texts = [info for info in columns if info.kind not in numeric]
        others = [info for info in columns if info.kind in (ColumnKind.NUMBER, ColumnKind.BOOL)]
        order = [*texts, *others, layout.fixed[VERSION_COLUMN]]
        # Executed without parameters, so the driver does no %-formatting: undo the doubling.
        self.head = insert_into(order).replace("%%", "%") + " VALUES "
        self.tail = tail.replace("%%", "%")
        self.keys = [info.key for info in order]
        self.text_fields = tuple(info.field for info in texts)
        self.text_limits = tuple(-1 if i.max_length is None else i.max_length for i in texts)
        self.text_plan = [(info.field, converter(info)) for info in texts]
        self.other_plan: list[tuple[str, Callable[[Any], str]]] = [
            (
                info.field,
                number_literal if info.kind is ColumnKind.NUMBER else _literal(converter(info)),
            )
            for info in others
        ]

    def render(self, rows: Sequence[Row]) -> list[str]:
        """Return the statements for `rows`; NoLiteralError if a value needs the driver."""
        literals: list[str] = []
        fields, limits = self.text_fields, self.text_limits
        for row in rows:
            values = row.values
            get = values.get
            cells = [render(get(field)) for field, render in self.other_plan]
            cells.append(str(row.version))
            if fields:
                text = mysql_cells(values, fields, limits)
                if text is None:
                    text = ",".join(
                        [mysql_literal(convert(get(f))) for f, convert in self.text_plan]
                    )
                cells.insert(0, text)
            literals.append("(" + ",".join(cells) + ")")
        return self.pack(literals)

    def pack(self, literals: Sequence[str]) -> list[str]:
        """Return the statements holding the row literals, each about MYSQL_STATEMENT_BYTES."""
        out: list[str] = []
        chunk: list[str] = []
        size = 0
        for literal in literals:
            chunk.append(literal)
            size += len(literal) + 1
            if size >= MYSQL_STATEMENT_BYTES:
                out.append(self.head + ",".join(chunk) + self.tail)
                chunk, size = [], 0
        if chunk:
            out.append(self.head + ",".join(chunk) + self.tail)
        return out


def _literal(convert: Callable[[Any], Any]) -> Callable[[Any], str]:
    def render(value: Any) -> str:
        return mysql_literal(convert(value))

    return render
