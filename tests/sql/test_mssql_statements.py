"""SQL Server is not exercised live in CI: check the generated DDL and MERGE text instead."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.mssql import pyodbc

from consumers.sql.helper_tables import offsets_table
from consumers.sql.layout import ColumnInfo, TableLayout, build_data_table
from consumers.sql.tables import CONTACTS, TRANSACTIONS, ColumnKind
from consumers.sql.upsert import build_merge_sql, build_offsets_upsert

DIALECT = pyodbc.dialect(paramstyle="qmark")


def _ddl(spec: object) -> str:
    return str(
        sa.schema.CreateTable(build_data_table(spec, "df_", "mssql")).compile(dialect=DIALECT)
    )  # type: ignore[arg-type]


def test_contacts_ddl_has_real_lengths_and_unicode_types() -> None:
    ddl = _ddl(CONTACTS)
    assert "[$id] NVARCHAR(255) NOT NULL" in ddl
    assert "[$status_detail] NVARCHAR(max)" in ddl
    assert "[$comment] NVARCHAR(max)" in ddl
    assert "[$dbsync_version] BIGINT" in ddl
    assert " TEXT" not in ddl.upper().replace("NVARCHAR", "")
    assert "NVARCHAR," not in ddl and "NVARCHAR\n" not in ddl  # never bare nvarchar (= 1 char)


def test_transactions_ddl_types() -> None:
    ddl = _ddl(TRANSACTIONS)
    assert "pause_time_sec NUMERIC(38, 10)" in ddl
    assert "[isHI] BIT" in ddl
    assert "[user_loginName] NVARCHAR(255)" in ddl


def test_merge_uses_holdlock_and_the_version_guard() -> None:
    layout = TableLayout(CONTACTS, "df_contacts", "mssql")
    for i, (name, kind) in enumerate(CONTACTS.kinds().items()):
        layout.fixed[name] = ColumnInfo(name, name, kind, None, f"c{i}")
    layout.custom["a ]weird[ name"] = ColumnInfo(
        "a ]weird[ name", "a ]weird[ name", ColumnKind.TEXT, None, "c99"
    )
    sql = build_merge_sql(layout, DIALECT)
    assert sql.startswith(
        "MERGE INTO [df_contacts] WITH (HOLDLOCK) AS tgt USING (SELECT :c0 AS [$id]"
    )
    assert "ON tgt.[$id] = src.[$id]" in sql
    assert (
        "WHEN MATCHED AND (tgt.[$dbsync_version] IS NULL OR "
        "tgt.[$dbsync_version] < src.[$dbsync_version]) THEN UPDATE SET" in sql
    )
    assert "[a ]]weird[ name]" in sql  # closing brackets are escaped
    assert "tgt.[$id] = src.[$id]," not in sql  # the key is not updated
    assert sql.rstrip().endswith(");")
    compiled = str(sa.text(sql).compile(dialect=DIALECT))
    assert "?" in compiled and ":c0" not in compiled


def test_offsets_merge() -> None:
    sql = str(build_offsets_upsert(offsets_table("df_", "mssql"), DIALECT))
    assert "MERGE INTO [df_dbsync_offsets] WITH (HOLDLOCK)" in sql
    assert "[partition]" in sql
