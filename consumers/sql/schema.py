"""Create and evolve the tables: fixed columns, custom field columns and the two helper tables.

Tables are created when missing; missing columns are added with ALTER TABLE ADD (the DDL is
logged); nothing is ever dropped or retyped. Existing columns are read through SQLAlchemy's
inspector, which filters by the connection's current schema/database (fixes dbsync2's W17).
Custom field -> column mappings are kept in `{tp}dbsync_columns` so users can find renamed ones.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import sqlalchemy as sa

from consumers.sql.helper_tables import mapping_table, offsets_table
from consumers.sql.layout import ColumnInfo, TableLayout, build_data_table
from consumers.sql.naming import map_column_name
from consumers.sql.rows import RowSet
from consumers.sql.tables import (
    ALL_TABLES,
    CONTACTS,
    VERSION_COLUMN,
    ColumnKind,
    TableSpec,
    column_type,
)
from consumers.sql.values import infer_kind

log = logging.getLogger(__name__)


def _field_md5(name: str) -> str:
    return hashlib.md5(name.encode("utf-8"), usedforsecurity=False).hexdigest()


NUMERIC_TYPES = ("int", "numeric", "decimal", "float", "double", "real", "money")


def _reflected_kind(column: tuple[str, int | None]) -> ColumnKind:
    data_type = column[0]
    if data_type.startswith("bool") or data_type == "bit":
        return ColumnKind.BOOL
    if any(word in data_type for word in NUMERIC_TYPES):
        return ColumnKind.NUMBER
    return ColumnKind.TEXT


def _reflected_length(column: tuple[str, int | None] | None) -> int | None:
    if column is None or _reflected_kind(column) is not ColumnKind.TEXT:
        return None
    return column[1]


class SchemaManager:
    """Keeps the database schema in step with the fields the events carry."""

    def __init__(self, engine: sa.Engine, prefix: str) -> None:
        self._engine = engine
        self._prefix = prefix
        self._dialect = engine.dialect.name
        self.layouts: dict[str, TableLayout] = {}
        self.mapping = mapping_table(prefix, self._dialect)
        self.offsets = offsets_table(prefix, self._dialect)
        # (contacts layout, field names it has a column for): rebuilt when the layout changes.
        self._known: tuple[TableLayout | None, frozenset[str]] = (None, frozenset())

    @property
    def dialect(self) -> str:
        """The SQLAlchemy dialect name: postgresql, mysql, mssql or sqlite."""
        return self._dialect

    def ensure_base(self) -> None:
        """Create missing tables and fixed columns, then load every table's layout."""
        for helper in (self.mapping, self.offsets):
            self._create_if_missing(helper)
        for spec in ALL_TABLES:
            self._create_if_missing(build_data_table(spec, self._prefix, self._dialect))
        for spec in ALL_TABLES:
            self._add_missing_fixed(spec)
        self.reload()

    def _has_table(self, name: str) -> bool:
        with self._engine.connect() as conn:
            return sa.inspect(conn).has_table(name)

    def _create_if_missing(self, table: sa.Table) -> None:
        """Create one table in its own transaction (MySQL commits DDL implicitly anyway)."""
        if self._has_table(table.name):
            return
        log.info("DDL: %s", str(sa.schema.CreateTable(table).compile(self._engine)).strip())
        try:
            with self._engine.begin() as conn:
                table.create(conn, checkfirst=True)
        except sa.exc.DBAPIError:
            # Another instance of the group may have created it at the same moment.
            if not self._has_table(table.name):
                raise

    def _existing_columns(
        self, conn: sa.Connection, table_name: str
    ) -> dict[str, tuple[str, int | None]]:
        """Return column name -> (data type, character length) of a table in this schema only."""
        if self._dialect == "sqlite":
            prep = self._engine.dialect.identifier_preparer
            pragma = f"PRAGMA table_info({prep.quote(table_name)})"
            return {row[1]: (str(row[2]).lower(), None) for row in conn.exec_driver_sql(pragma)}
        current = {
            "postgresql": "current_schema()",
            "mysql": "DATABASE()",
            "mssql": "SCHEMA_NAME()",
        }[self._dialect]
        query = sa.text(
            "SELECT column_name, data_type, character_maximum_length "
            "FROM information_schema.columns "
            f"WHERE table_schema = {current} AND table_name = :table_name"
        )
        return {
            str(name): (str(data_type).lower(), int(length) if length and length > 0 else None)
            for name, data_type, length in conn.execute(query, {"table_name": table_name})
        }

    def _add_missing_fixed(self, spec: TableSpec) -> None:
        with self._engine.connect() as conn:
            existing = self._existing_columns(conn, spec.name(self._prefix))
        for name, kind in spec.kinds().items():
            if name not in existing:
                self._add_column(spec.name(self._prefix), name, kind)

    def _add_column(self, table_name: str, column: str, kind: ColumnKind) -> None:
        prep = self._engine.dialect.identifier_preparer
        sql_type = column_type(kind, self._dialect).compile(dialect=self._engine.dialect)
        add = "ADD" if self._dialect == "mssql" else "ADD COLUMN"
        ddl = f"ALTER TABLE {prep.quote(table_name)} {add} {prep.quote(column)} {sql_type}"
        log.info("DDL: %s", ddl)
        try:
            with self._engine.begin() as conn:
                conn.exec_driver_sql(ddl)
        except sa.exc.DBAPIError:
            # Another instance may have added it first; only a still-missing column is an error.
            with self._engine.connect() as conn:
                existing = {n.casefold() for n in self._existing_columns(conn, table_name)}
            if column.casefold() not in existing:
                raise

    def reload(self) -> None:
        """Read columns and field mappings from the database and rebuild every layout."""
        with self._engine.connect() as conn:
            mapped: dict[str, dict[str, tuple[str, str]]] = {}
            for row in conn.execute(sa.select(self.mapping)):
                mapped.setdefault(row.table_name, {})[row.field_name] = (
                    row.column_name,
                    row.column_kind,
                )
            for spec in ALL_TABLES:
                name = spec.name(self._prefix)
                existing = self._existing_columns(conn, name)
                self.layouts[spec.entity] = self._build_layout(
                    spec, name, existing, mapped.get(name, {})
                )

    def _build_layout(
        self,
        spec: TableSpec,
        name: str,
        existing: dict[str, tuple[str, int | None]],
        mapped: dict[str, tuple[str, str]],
    ) -> TableLayout:
        layout = TableLayout(spec, name, self._dialect)
        index = 0
        for field_name, kind in spec.kinds().items():
            length = _reflected_length(existing.get(field_name))
            if kind in (ColumnKind.NUMBER, ColumnKind.BOOL, ColumnKind.VERSION):
                length = None
            layout.fixed[field_name] = ColumnInfo(field_name, field_name, kind, length, f"c{index}")
            index += 1
        for field_name, (column, kind_text) in mapped.items():
            if column not in existing:
                continue
            length = _reflected_length(existing[column])
            kind = ColumnKind(kind_text)
            if kind is not ColumnKind.TEXT:
                length = None
            layout.custom[field_name] = ColumnInfo(field_name, column, kind, length, f"c{index}")
            index += 1
        return layout

    def new_custom_fields(self, row_set: RowSet) -> dict[str, ColumnKind]:
        """Return the contact fields of `row_set` that have no column yet, with their kinds."""
        layout = self.layouts[CONTACTS.entity]
        known_for = self._known
        if known_for[0] is not layout:
            fixed = set(CONTACTS.kinds()) - {VERSION_COLUMN}
            known_for = (layout, frozenset(fixed | set(layout.custom)))
            self._known = known_for
        known = known_for[1]
        new_fields: dict[str, ColumnKind] = {}
        for row in row_set.for_table(CONTACTS):
            if known.issuperset(row.values):  # the common case, checked in C
                continue
            for name, value in row.values.items():
                if name in known or name in new_fields:
                    continue
                kind = infer_kind(value)
                if kind is not None:
                    new_fields[name] = kind
        return new_fields

    def ensure_custom_fields(self, row_set: RowSet) -> None:
        """Add a column (and a mapping) for every contact field not seen before."""
        new_fields = self.new_custom_fields(row_set)
        if new_fields:
            self._add_custom_fields(self.layouts[CONTACTS.entity], new_fields)
            self.reload()

    def _add_custom_fields(self, layout: TableLayout, new_fields: dict[str, ColumnKind]) -> None:
        with self._engine.connect() as conn:
            existing = self._existing_columns(conn, layout.name)
        owned = {info.column for info in layout.columns()}
        taken = set(existing) | owned
        for field_name, kind in new_fields.items():
            unowned = field_name in existing and field_name not in owned
            if unowned:
                # A legacy dbsync2 table already has this custom column: adopt it as it is.
                column, kind = field_name, _reflected_kind(existing[field_name])
            else:
                column = map_column_name(field_name, self._dialect, taken)
                self._add_column(layout.name, column, kind)
                if column != field_name:
                    log.info("custom field %r is stored in column %r", field_name, column)
            taken.add(column)
            self._record_mapping(layout.name, field_name, column, kind)

    def _record_mapping(self, table_name: str, field_name: str, column: str, kind: Any) -> None:
        values = {
            "table_name": table_name,
            "field_md5": _field_md5(field_name),
            "field_name": field_name,
            "column_name": column,
            "column_kind": str(kind),
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(self.mapping), [values])
        except sa.exc.IntegrityError:
            log.info("mapping for %r was recorded concurrently", field_name)
