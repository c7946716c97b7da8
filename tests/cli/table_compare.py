"""Compare materialized dbsync2 tables with expected rows, normalising each dialect's types."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

PRIMARY_KEYS = {"contacts": "$id"}


def normalise(expected: Any, actual: Any) -> tuple[Any, Any]:
    """Return both values in one comparable form (bools, numbers, JSON text, strings).

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
        return Decimal(str(expected)), Decimal(str(actual))
    if isinstance(expected, dict | list):
        return expected, json.loads(actual) if isinstance(actual, str) else actual
    return str(expected), str(actual)


def read_table(engine: sa.Engine, table: str) -> dict[str, dict[str, Any]]:
    """Return primary key -> row of one table."""
    key = "$id" if table.endswith("contacts") else "id"
    reflected = sa.Table(table, sa.MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(reflected)).mappings().all()
    return {str(row[key]): dict(row) for row in rows}


def table_differences(
    engine: sa.Engine, expected: dict[str, dict[str, dict[str, Any]]], limit: int = 10
) -> list[str]:
    """Return human-readable differences between the database and `expected` (empty = equal)."""
    problems: list[str] = []
    for table, want in expected.items():
        have = read_table(engine, table)
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        if missing:
            problems.append(f"{table}: {len(missing)} missing rows, e.g. {missing[:3]}")
        if extra:
            problems.append(f"{table}: {len(extra)} unexpected rows, e.g. {extra[:3]}")
        for key in sorted(set(want) & set(have)):
            for column, value in want[key].items():
                left, right = normalise(value, have[key].get(column))
                if left != right:
                    problems.append(f"{table}[{key}].{column}: expected {left!r}, got {right!r}")
                    if len(problems) >= limit:
                        return problems
    return problems
