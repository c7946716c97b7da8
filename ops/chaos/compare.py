"""Compare materialized tables with expected rows, row by row, normalising each dialect's types."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from ops.chaos.oracle import Tables


@dataclass
class TableReport:
    """The outcome of comparing one database with the truth."""

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
        """Keep a few examples for the report."""
        if len(self.examples) < 12:
            self.examples.append(text)


def comparable(expected: Any, actual: Any) -> tuple[Any, Any]:
    """Both values in one form: '' is NULL, booleans as bool, numbers as Decimal, JSON parsed."""
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


def column_mapping(engine: sa.Engine, prefix: str) -> dict[str, dict[str, str]]:
    """Table name -> custom field name -> column holding it (`{tp}dbsync_columns`)."""
    try:
        mapping = sa.Table(f"{prefix}dbsync_columns", sa.MetaData(), autoload_with=engine)
    except sa.exc.NoSuchTableError:
        return {}
    found: dict[str, dict[str, str]] = {}
    query = sa.select(mapping.c.table_name, mapping.c.field_name, mapping.c.column_name)
    with engine.connect() as conn:
        for table, field_name, column in conn.execute(query):
            found.setdefault(str(table), {})[str(field_name)] = str(column)
    return found


def compare_database(engine: sa.Engine, expected: Tables, prefix: str = "") -> TableReport:
    """Compare every expected table of `engine` (tables named `prefix + name`) with `expected`."""
    report = TableReport()
    renamed = column_mapping(engine, prefix)
    for name, want in expected.items():
        table = prefix + name
        key = "$id" if name == "contacts" else "id"
        if not sa.inspect(engine).has_table(table):
            report.missing += len(want)
            report.note(f"{table}: table missing ({len(want)} rows expected)")
            continue
        # SELECT * rather than reflected columns: MySQL reflection mangles names with backticks,
        # while the cursor description has every column name exactly as stored.
        quoted = engine.dialect.identifier_preparer.quote(table)
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT * FROM {quoted}")).mappings().all()
        have: dict[str, dict[str, Any]] = {}
        for row in rows:
            pk = str(row[key])
            if pk in have:
                report.duplicates += 1
                report.note(f"{table}[{pk}]: duplicate row")
            have[pk] = dict(row)
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        report.missing += len(missing)
        report.unexpected += len(extra)
        if missing:
            report.note(f"{table}: {len(missing)} missing rows, e.g. {missing[:3]}")
        if extra:
            report.note(f"{table}: {len(extra)} unexpected rows, e.g. {extra[:3]}")
        columns = renamed.get(table, {})
        for pk in sorted(set(want) & set(have)):
            report.rows_compared += 1
            for column, value in want[pk].items():
                left, right = comparable(value, have[pk].get(columns.get(column, column)))
                if left != right:
                    report.stale_or_wrong += 1
                    report.note(f"{table}[{pk}].{column}: expected {left!r:.80}, got {right!r:.80}")
                    break
    return report
