"""Compare materialized dbsync2 tables with expected rows, normalising each dialect's types.

Every identifier reaches the database through SQLAlchemy's compiler (`sa.table`, `sa.select`),
which quotes it for the dialect, so hostile custom-field names (a`b, q"uote, spaces) are read
exactly. Columns are deliberately not reflected: MySQL/MariaDB reflection (SQLAlchemy 2.1) keeps
backticks doubled (`a``b`), and the SELECT built from it names a column that does not exist.
`SELECT *` is used instead; the driver's cursor description names each column exactly as stored.
Custom fields the consumer stored under another column name are found via `{tp}dbsync_columns`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from ops.truth.oracle import TABLES, Row, Tables

MAX_EXAMPLES = 12


@dataclass
class TableReport:
    """The outcome of comparing one database with the expected tables."""

    rows_compared: int = 0
    missing: int = 0
    unexpected: int = 0
    duplicates: int = 0
    stale_or_wrong: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> int:
        """Every kind of difference, summed."""
        return self.missing + self.unexpected + self.duplicates + self.stale_or_wrong

    def note(self, text: str) -> None:
        """Keep a few examples for the report (every counted difference notes one)."""
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(text)


def comparable(expected: Any, actual: Any) -> tuple[Any, Any]:
    """Both values in one form: '' is NULL, booleans as bool, numbers as Decimal, JSON parsed.

    dbsync2 stores '' as NULL, booleans in text columns as "1"/"0" and objects as JSON text.
    """
    if expected == "":
        expected = None
    if expected is None or actual is None:
        return expected, actual
    if isinstance(expected, bool):
        if isinstance(actual, str):
            return expected, actual.strip().lower() in {"1", "true", "t"}
        return expected, bool(actual)
    if isinstance(expected, int | float | Decimal):
        try:
            return Decimal(str(expected)), Decimal(str(actual))
        except InvalidOperation:
            return str(expected), str(actual)
    if isinstance(expected, dict | list):
        if isinstance(actual, str):
            try:
                return expected, json.loads(actual)
            except ValueError:
                return expected, actual
        return expected, actual
    return str(expected), str(actual)


def split_table_name(table: str) -> tuple[str, str]:
    """Return (prefix, entity) of a dbsync2 table name: `df_contacts` -> ("df_", "contacts")."""
    for entity in TABLES:
        if table.endswith(entity):
            return table[: -len(entity)], entity
    raise ValueError(f"{table!r} is not a dbsync2 data table")


def read_column_map(engine: sa.Engine, prefix: str) -> dict[str, dict[str, str]]:
    """Table name -> custom field name -> column holding it (`{tp}dbsync_columns`; {} if none)."""
    name = f"{prefix}dbsync_columns"
    if not sa.inspect(engine).has_table(name):
        return {}
    mapping = sa.table(
        name, sa.column("table_name"), sa.column("field_name"), sa.column("column_name")
    )
    found: dict[str, dict[str, str]] = {}
    query = sa.select(mapping.c.table_name, mapping.c.field_name, mapping.c.column_name)
    with engine.connect() as conn:
        for table, field_name, column in conn.execute(query):
            found.setdefault(str(table), {})[str(field_name)] = str(column)
    return found


def read_rows(engine: sa.Engine, table: str) -> list[Row]:
    """Every row of `table`, keyed by column name exactly as stored (see the module docstring)."""
    query: sa.Select[Any] = sa.select(sa.literal_column("*")).select_from(sa.table(table))
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def read_table(engine: sa.Engine, table: str) -> dict[str, Row]:
    """Return primary key -> row of one dbsync2 table."""
    key = "$id" if split_table_name(table)[1] == "contacts" else "id"
    return {str(row[key]): row for row in read_rows(engine, table)}


def _compare_table(
    report: TableReport, table: str, want: dict[str, Row], rows: list[Row], columns: dict[str, str]
) -> None:
    key = "$id" if split_table_name(table)[1] == "contacts" else "id"
    have: dict[str, Row] = {}
    for row in rows:
        pk = str(row[key])
        if pk in have:
            report.duplicates += 1
            report.note(f"{table}[{pk}]: duplicate row")
        have[pk] = row
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    report.missing += len(missing)
    report.unexpected += len(extra)
    if missing:
        report.note(f"{table}: {len(missing)} missing rows, e.g. {missing[:3]}")
    if extra:
        report.note(f"{table}: {len(extra)} unexpected rows, e.g. {extra[:3]}")
    for pk in sorted(set(want) & set(have)):
        report.rows_compared += 1
        for column, value in want[pk].items():
            left, right = comparable(value, have[pk].get(columns.get(column, column)))
            if left != right:
                report.stale_or_wrong += 1
                report.note(f"{table}[{pk}].{column}: expected {left!r:.80}, got {right!r:.80}")
                break


def compare_database(engine: sa.Engine, expected: Tables) -> TableReport:
    """Compare every table named in `expected` (e.g. from `expected_rows`) with the database."""
    report = TableReport()
    column_maps: dict[str, dict[str, dict[str, str]]] = {}
    for table, want in expected.items():
        prefix, _entity = split_table_name(table)
        if prefix not in column_maps:
            column_maps[prefix] = read_column_map(engine, prefix)
        if not sa.inspect(engine).has_table(table):
            report.missing += len(want)
            report.note(f"{table}: table missing ({len(want)} rows expected)")
            continue
        rows = read_rows(engine, table)
        _compare_table(report, table, want, rows, column_maps[prefix].get(table, {}))
    return report


def table_differences(engine: sa.Engine, expected: Tables) -> list[str]:
    """Examples of the differences between the database and `expected`; [] when they are equal."""
    report = compare_database(engine, expected)
    return report.examples
