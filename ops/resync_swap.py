"""Swap a resync's shadow tables in under the live names, atomically, per dialect.

- PostgreSQL and SQLite: every `ALTER TABLE … RENAME TO …` in one transaction (their DDL is
  transactional), so readers see either all old or all new tables.
- MySQL / MariaDB: one `RENAME TABLE live TO old, shadow TO live, …` statement, which the server
  performs atomically (DDL there commits implicitly, so one statement is the only atomic unit).
- Other dialects (SQL Server): `SwapUnsupported`; docs/runbooks/resync.md has the manual steps.

The live tables are kept under the `old` names; nothing is dropped. Table names are quoted by the
dialect's identifier preparer, so any prefix is safe.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import sqlalchemy as sa

from consumers.sql.helper_tables import mapping_table
from consumers.sql.tables import ALL_TABLES


def table_pairs(live_prefix: str, shadow_prefix: str) -> list[tuple[str, str]]:
    """Return (live, shadow) names of every data table and the column-mapping table."""
    pairs = [(spec.name(live_prefix), spec.name(shadow_prefix)) for spec in ALL_TABLES]
    pairs.append((f"{live_prefix}dbsync_columns", f"{shadow_prefix}dbsync_columns"))
    return pairs


class SwapUnsupported(Exception):
    """The database's dialect has no atomic way to swap tables that dbsync2 implements."""


@dataclasses.dataclass(frozen=True)
class TableSwap:
    """Rename `live` to `old` (when it exists) and `shadow` to `live`."""

    live: str
    shadow: str
    old: str


def plan_swaps(
    engine: sa.Engine, pairs: Sequence[tuple[str, str]], old_prefix: str
) -> list[TableSwap]:
    """Return the swaps for (live, shadow) pairs whose shadow table exists."""
    inspector = sa.inspect(engine)
    return [
        TableSwap(live, shadow, old_prefix + live)
        for live, shadow in pairs
        if inspector.has_table(shadow)
    ]


def swap_tables(engine: sa.Engine, swaps: Sequence[TableSwap]) -> None:
    """Perform the swaps atomically (how, per dialect: see the module docstring)."""
    dialect = engine.dialect.name
    quote = engine.dialect.identifier_preparer.quote
    existing = {s.live for s in swaps if sa.inspect(engine).has_table(s.live)}
    if dialect in ("postgresql", "sqlite"):
        with engine.begin() as conn:
            for s in swaps:
                if s.live in existing:
                    conn.execute(sa.text(f"ALTER TABLE {quote(s.live)} RENAME TO {quote(s.old)}"))
                conn.execute(sa.text(f"ALTER TABLE {quote(s.shadow)} RENAME TO {quote(s.live)}"))
    elif dialect in ("mysql", "mariadb"):
        renames = [f"{quote(s.live)} TO {quote(s.old)}" for s in swaps if s.live in existing]
        renames += [f"{quote(s.shadow)} TO {quote(s.live)}" for s in swaps]
        with engine.begin() as conn:
            conn.execute(sa.text("RENAME TABLE " + ", ".join(renames)))
    else:
        raise SwapUnsupported(
            f"swapping tables atomically is not implemented for {dialect}; "
            "see docs/runbooks/resync.md for the manual procedure"
        )


def rename_mappings(engine: sa.Engine, shadow_prefix: str, live_prefix: str) -> None:
    """Point the shadow column mappings at the live table names they will carry."""
    table = mapping_table(shadow_prefix, engine.dialect.name)
    if not sa.inspect(engine).has_table(table.name):
        return
    with engine.begin() as conn:
        for spec in ALL_TABLES:
            conn.execute(
                sa.update(table)
                .where(table.c.table_name == spec.name(shadow_prefix))
                .values(table_name=spec.name(live_prefix))
            )
