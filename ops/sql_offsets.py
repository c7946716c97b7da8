"""Read and rewrite a SQL group's offsets kept in its target database (`{tp}dbsync_offsets`).

The SQL materializer seeks to these offsets on every partition assignment (they commit together
with the rows), so a replay of a SQL group only takes effect when they are rewritten too.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from consumers.sql.helper_tables import offsets_table


class SqlOffsetStore:
    """The `{prefix}dbsync_offsets` rows of one group and topic."""

    def __init__(self, engine: sa.Engine, prefix: str, group_id: str, topic: str) -> None:
        self._engine = engine
        self._table = offsets_table(prefix, engine.dialect.name)
        self._group_id = group_id
        self._topic = topic

    @property
    def table_name(self) -> str:
        """The offsets table's name."""
        return self._table.name

    def dispose(self) -> None:
        """Close the engine's connections."""
        self._engine.dispose()

    def exists(self) -> bool:
        """Return True when the offsets table exists in the database."""
        return sa.inspect(self._engine).has_table(self._table.name)

    def read(self) -> dict[int, int]:
        """Return the stored next offset per partition."""
        if not self.exists():
            return {}
        table = self._table
        query = sa.select(table.c.partition, table.c.next_offset).where(
            table.c.group_id == self._group_id, table.c.topic == self._topic
        )
        with self._engine.connect() as conn:
            return {int(p): int(o) for p, o in conn.execute(query)}

    def rewrite(self, offsets: Mapping[int, int]) -> None:
        """Replace the group's rows for the topic with `offsets`, in one transaction."""
        table = self._table
        with self._engine.begin() as conn:
            table.create(conn, checkfirst=True)
            conn.execute(
                sa.delete(table).where(
                    table.c.group_id == self._group_id, table.c.topic == self._topic
                )
            )
            conn.execute(
                sa.insert(table),
                [
                    {
                        "group_id": self._group_id,
                        "topic": self._topic,
                        "partition": p,
                        "next_offset": o,
                    }
                    for p, o in sorted(offsets.items())
                ],
            )
