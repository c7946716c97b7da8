"""Custom field name -> column name mapping: deterministic, within limits, case-insensitive."""

from __future__ import annotations

import pytest

from consumers.sql.naming import map_column_name, name_suffix


@pytest.mark.parametrize(
    ("dialect", "limit", "in_bytes"),
    [("postgresql", 63, True), ("mysql", 64, False), ("mssql", 128, False)],
)
def test_long_names_are_cut_with_a_hash_suffix(dialect: str, limit: int, in_bytes: bool) -> None:
    name = "ä" * 200
    column = map_column_name(name, dialect, [])
    size = len(column.encode()) if in_bytes else len(column)
    assert size <= limit
    assert column.endswith(name_suffix(name))
    assert map_column_name(name, dialect, []) == column  # deterministic


def test_names_that_differ_only_in_case_get_distinct_columns() -> None:
    assert map_column_name("Status", "mysql", ["$id"]) == "Status"
    lower = map_column_name("status", "mysql", ["$id", "Status"])
    assert lower == "status" + name_suffix("status")


def test_verbatim_when_the_dialect_accepts_it() -> None:
    for name in ("first name", 'it\'s "q"', "select", "שם_לקוח", "a;b;--"):
        assert map_column_name(name, "postgresql", []) == name


def test_mysql_replaces_what_it_cannot_store() -> None:
    column = map_column_name("emoji_📞 ", "mysql", [])
    assert column.startswith("emoji__") and column.endswith(name_suffix("emoji_📞 "))
    assert map_column_name("emoji_📞", "postgresql", []) == "emoji_📞"
