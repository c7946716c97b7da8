"""Build each dialect's native batched upsert with the stale-write guard on `$dbsync_version`.

A row is updated only when the incoming version is strictly greater than the stored one (or the
stored one is NULL: a row written by dbsync2 v1.15), so replays and duplicates change nothing.
- PostgreSQL / SQLite: INSERT .. ON CONFLICT (pk) DO UPDATE SET .. WHERE stored < excluded.
- MySQL / MariaDB: INSERT .. ON DUPLICATE KEY UPDATE c = IF(new > stored, new, c) for every
  column, the version column assigned last (assignments see already-updated values).
- SQL Server: MERGE .. WITH (HOLDLOCK), one source row per execution (pyodbc executemany), so two
  writers of the same new key serialise instead of racing into a PK violation (W19).
Parameters are bound by the column keys c0, c1, ..., never by (hostile) column names.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from consumers.sql.layout import TableLayout
from consumers.sql.tables import VERSION_COLUMN


def build_upsert(layout: TableLayout, dialect: sa.Dialect) -> Any:
    """Return an executable upsert of `layout`'s table for executemany with c0.. parameters."""
    name = dialect.name
    if name == "postgresql":
        return _on_conflict(layout, postgresql.insert(layout.sa_table()))
    if name == "sqlite":
        return _on_conflict(layout, sqlite.insert(layout.sa_table()))
    if name == "mysql":
        return on_duplicate_key(layout)
    if name == "mssql":
        return sa.text(build_merge_sql(layout, dialect))
    raise ValueError(f"unsupported database dialect: {name}")


def _on_conflict(layout: TableLayout, stmt: Any) -> Any:
    table = layout.sa_table()
    pk = layout.primary().key
    version = layout.fixed[VERSION_COLUMN].key
    updates = {info.key: stmt.excluded[info.key] for info in layout.columns() if info.key != pk}
    stored = table.c[version]
    guard = sa.or_(stored.is_(None), stored < stmt.excluded[version])
    return stmt.on_conflict_do_update(index_elements=[table.c[pk]], set_=updates, where=guard)


def on_duplicate_key(layout: TableLayout) -> Any:
    """Return the MySQL upsert of `layout` (c0.. parameters), stale-write guard in each SET."""
    table = layout.sa_table()
    stmt = mysql.insert(table)
    pk = layout.primary().key
    version = layout.fixed[VERSION_COLUMN].key
    stored = table.c[version]
    newer = sa.or_(stored.is_(None), stmt.inserted[version] > stored)
    assignments: list[tuple[str, Any]] = []
    for info in layout.columns():
        if info.key in (pk, version):
            continue
        col = table.c[info.key]
        assignments.append((info.key, sa.case((newer, stmt.inserted[info.key]), else_=col)))
    assignments.append((version, sa.case((newer, stmt.inserted[version]), else_=stored)))
    return stmt.on_duplicate_key_update(assignments)


def build_merge_sql(layout: TableLayout, dialect: sa.Dialect) -> str:
    """Return the SQL Server MERGE statement text (named :cN parameters)."""
    prep = dialect.identifier_preparer
    cols = layout.columns()
    pk = layout.primary()
    version = layout.fixed[VERSION_COLUMN]
    quoted = {info.key: prep.quote_identifier(info.column) for info in cols}
    source = ", ".join(f":{info.key} AS {quoted[info.key]}" for info in cols)
    updates = ", ".join(
        f"tgt.{quoted[info.key]} = src.{quoted[info.key]}" for info in cols if info.key != pk.key
    )
    insert_cols = ", ".join(quoted[info.key] for info in cols)
    insert_vals = ", ".join(f"src.{quoted[info.key]}" for info in cols)
    v = quoted[version.key]
    return (
        f"MERGE INTO {prep.quote_identifier(layout.name)} WITH (HOLDLOCK) AS tgt "
        f"USING (SELECT {source}) AS src ON tgt.{quoted[pk.key]} = src.{quoted[pk.key]} "
        f"WHEN MATCHED AND (tgt.{v} IS NULL OR tgt.{v} < src.{v}) THEN UPDATE SET {updates} "
        f"WHEN NOT MATCHED THEN INSERT ({insert_cols}) VALUES ({insert_vals});"
    )


def build_offsets_upsert(table: sa.Table, dialect: sa.Dialect) -> Any:
    """Return an upsert of `{tp}dbsync_offsets` rows (group_id, topic, partition, next_offset)."""
    name = dialect.name
    keys = ["group_id", "topic", "partition"]
    if name in ("postgresql", "sqlite"):
        ins = (postgresql.insert if name == "postgresql" else sqlite.insert)(table)
        return ins.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={"next_offset": ins.excluded.next_offset},
        )
    if name == "mysql":
        my = mysql.insert(table)
        return my.on_duplicate_key_update(next_offset=my.inserted.next_offset)
    if name == "mssql":
        prep = dialect.identifier_preparer
        t = prep.quote_identifier(table.name)
        g, tp, p, n = (
            prep.quote_identifier(c) for c in ("group_id", "topic", "partition", "next_offset")
        )
        return sa.text(
            f"MERGE INTO {t} WITH (HOLDLOCK) AS tgt USING (SELECT :group_id AS {g}, "
            f":topic AS {tp}, :partition AS {p}, :next_offset AS {n}) AS src "
            f"ON tgt.{g} = src.{g} AND tgt.{tp} = src.{tp} AND tgt.{p} = src.{p} "
            f"WHEN MATCHED THEN UPDATE SET {n} = src.{n} "
            f"WHEN NOT MATCHED THEN INSERT ({g}, {tp}, {p}, {n}) "
            f"VALUES (src.{g}, src.{tp}, src.{p}, src.{n});"
        )
    raise ValueError(f"unsupported database dialect: {name}")
