"""Table layouts: each table's columns with their kinds and keys, as SQLAlchemy tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from consumers.sql.tables import CONTACTS, ColumnKind, TableSpec, column_type, table_options


@dataclass(frozen=True)
class ColumnInfo:
    """Where one field is stored: column name, kind, length limit and its bind key."""

    field: str
    column: str
    kind: ColumnKind
    max_length: int | None
    key: str


@dataclass
class TableLayout:
    """The current columns of one table and a SQLAlchemy Table built from them."""

    spec: TableSpec
    name: str
    dialect: str
    fixed: dict[str, ColumnInfo] = field(default_factory=dict)
    custom: dict[str, ColumnInfo] = field(default_factory=dict)
    table: sa.Table | None = None

    def columns(self) -> list[ColumnInfo]:
        """Return every known column, fixed first."""
        return [*self.fixed.values(), *self.custom.values()]

    def sa_table(self) -> sa.Table:
        """Return the SQLAlchemy Table (columns keyed c0, c1, ... so any name binds safely)."""
        if self.table is None:
            metadata = sa.MetaData()
            cols = [
                sa.Column(info.column, bind_type(info.kind, self.dialect), key=info.key)
                for info in self.columns()
            ]
            self.table = sa.Table(self.name, metadata, *cols)
        return self.table

    def primary(self) -> ColumnInfo:
        """Return the primary key column."""
        return self.fixed[self.spec.primary_key]


def bind_type(kind: ColumnKind, dialect: str) -> sa.types.TypeEngine[Any]:
    """Return the type used to bind values of a column kind (no DDL is generated from it)."""
    if kind is ColumnKind.NUMBER:
        # SQLite has no decimal type: bind floats there (documented precision limit).
        return sa.Numeric(asdecimal=False) if dialect == "sqlite" else sa.Numeric()
    if kind is ColumnKind.BOOL:
        return sa.Boolean()
    if kind is ColumnKind.VERSION:
        return sa.BigInteger()
    return sa.UnicodeText()


def build_data_table(spec: TableSpec, prefix: str, dialect: str) -> sa.Table:
    """Return the CREATE-able Table of one entity with this dialect's column types."""
    cols: list[Any] = []
    for name, kind in spec.kinds().items():
        sql_type: sa.types.TypeEngine[Any] = column_type(kind, dialect)
        if dialect == "sqlite" and kind is ColumnKind.NUMBER:
            sql_type = sa.Numeric(asdecimal=False)
        cols.append(sa.Column(name, sql_type, primary_key=(name == spec.primary_key)))
    table = sa.Table(spec.name(prefix), sa.MetaData(), *cols, **table_options(dialect))
    if spec is CONTACTS:
        # dbsync2's "$id|$md5" index, prefixed with the table prefix (fixes W28).
        sa.Index(f"{prefix}$id|$md5", table.c["$id"], table.c["$md5"])
    return table
