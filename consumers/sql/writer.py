"""Write one batch of events to the database in one transaction, together with its offsets.

Guarantees: the rows of a batch and the group's next offsets (`{tp}dbsync_offsets`) commit in
the same transaction, so after a crash at any instant the batch is either wholly applied with its
offsets or not at all; the consumer resumes from the stored offsets. Rows are upserted with the
stale-write guard, so re-applying an already applied event changes nothing.
"""

from __future__ import annotations

import logging
import operator
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from consumers.sql.classify import is_retryable
from consumers.sql.layout import TableLayout
from consumers.sql.rows import RowSet, collect_rows
from consumers.sql.schema import SchemaManager
from consumers.sql.statements import RenderedTable, StatementCache
from consumers.sql.tables import ALL_TABLES
from consumers.sql.upsert import build_offsets_upsert
from consumers.sql.values import TruncationCounter
from schemas import Event

log = logging.getLogger(__name__)

# Logging every cut value would flood the log on a legacy varchar(50) table; log the running
# totals at most this often instead.
TRUNCATION_LOG_SECONDS = 60.0


@dataclass(frozen=True)
class PreparedBatch:
    """A batch's rows, derived and rendered before the database is touched."""

    events: Sequence[Event]
    row_set: RowSet
    tables: list[RenderedTable]
    cuts: dict[str, int]  # values cut to their column while rendering, counted on commit

    def matches(self, events: Sequence[Event], layouts: Mapping[str, TableLayout]) -> bool:
        """Whether this is still the rendering of `events` for the current table layouts."""
        return (
            len(self.events) == len(events)
            and all(map(operator.is_, self.events, events))
            and all(layouts[t.layout.spec.entity] is t.layout for t in self.tables)
        )


class _TrialRollback(Exception):
    """Raised inside a trial write to roll it back."""


class BatchWriter:
    """Upserts the rows of a batch of events and the consumed offsets in one transaction."""

    def __init__(self, engine: sa.Engine, schema: SchemaManager, group_id: str) -> None:
        self._engine = engine
        self._schema = schema
        self._group_id = group_id
        self.truncations = TruncationCounter({})
        self.statements = StatementCache(engine.dialect, self.truncations)
        self._offsets_stmt = build_offsets_upsert(schema.offsets, engine.dialect)
        self._truncations_logged = 0.0
        self.rows_written = 0
        self.skipped_connections = 0

    def prepare(self, events: Sequence[Event]) -> PreparedBatch | None:
        """Derive and render the rows of `events` without touching the database (any thread).

        Returns None when the batch brings a new custom field: adding its column is DDL, which
        `write` does in the writer's turn.
        """
        row_set = collect_rows(events)
        if self._schema.new_custom_fields(row_set):
            return None
        return self._rendered(events, row_set)

    def _rendered(self, events: Sequence[Event], row_set: RowSet) -> PreparedBatch:
        self.truncations.take()  # this thread's cuts of an earlier, discarded rendering
        tables = self._render(row_set)
        return PreparedBatch(events, row_set, tables, self.truncations.take())

    def _render(self, row_set: RowSet) -> list[RenderedTable]:
        layouts = self._schema.layouts
        return [
            self.statements.render(layouts[spec.entity], rows)
            for spec in ALL_TABLES
            if (rows := row_set.for_table(spec))
        ]

    def _prepare_now(self, events: Sequence[Event]) -> PreparedBatch:
        row_set = collect_rows(events)
        self._schema.ensure_custom_fields(row_set)
        return self._rendered(events, row_set)

    def _apply(self, conn: sa.Connection, tables: Sequence[RenderedTable]) -> int:
        for table in tables:
            self.statements.execute(conn, table)
        return sum(len(table.rows) for table in tables)

    def write(
        self,
        events: Sequence[Event],
        next_offsets: Mapping[tuple[str, int], int],
        prepared: PreparedBatch | None = None,
    ) -> int:
        """Upsert the events' rows and store `next_offsets` in one transaction; return row count.

        `prepared` (from `prepare`) is used when it still matches the events and the layouts.
        """
        if prepared is None or not prepared.matches(events, self._schema.layouts):
            prepared = self._prepare_now(events)
        self.truncations.take()  # cuts of discarded renderings on this thread (trials, ...)
        with self._engine.begin() as conn:
            written = self._apply(conn, prepared.tables)
            if next_offsets:
                conn.execute(
                    self._offsets_stmt,
                    [
                        {"group_id": self._group_id, "topic": t, "partition": p, "next_offset": o}
                        for (t, p), o in sorted(next_offsets.items())
                    ],
                )
        self.truncations.commit(prepared.cuts)
        self.truncations.commit(self.truncations.take())  # executemany paths convert here
        self.rows_written += written
        self.skipped_connections += prepared.row_set.skipped_connections
        self._log_truncations()
        return written

    def try_write(self, events: Sequence[Event]) -> BaseException | None:
        """Write the events in a transaction that is rolled back; return the deterministic error.

        Retryable errors propagate: an outage says nothing about the data.
        """
        try:
            prepared = self._prepare_now(events)
            with self._engine.begin() as conn:
                self._apply(conn, prepared.tables)
                raise _TrialRollback
        except _TrialRollback:
            return None
        except Exception as exc:
            if is_retryable(exc):
                raise
            return exc

    def find_failing(
        self, events: Sequence[Event], first_error: BaseException | None = None
    ) -> list[tuple[int, BaseException]]:
        """Return (index, error) for each event the database rejects, found by bisection.

        `first_error` is the error the whole batch already failed with (saves one trial).
        """

        def search(
            lo: int, hi: int, known: BaseException | None
        ) -> list[tuple[int, BaseException]]:
            error = known if known is not None else self.try_write(events[lo:hi])
            if error is None:
                return []
            if hi - lo == 1:
                return [(lo, error)]
            mid = (lo + hi) // 2
            return search(lo, mid, None) + search(mid, hi, None)

        return search(0, len(events), first_error)

    def read_offsets(self, topic: str) -> dict[int, int]:
        """Return the stored next offset of each partition of `topic` for this group."""
        table = self._schema.offsets
        query = sa.select(table.c.partition, table.c.next_offset).where(
            table.c.group_id == self._group_id, table.c.topic == topic
        )
        with self._engine.connect() as conn:
            return {int(p): int(o) for p, o in conn.execute(query)}

    def _log_truncations(self) -> None:
        counts = self.truncations.counts
        now = time.monotonic()
        if counts and now - self._truncations_logged >= TRUNCATION_LOG_SECONDS:
            self._truncations_logged = now
            log.warning("values cut to their column length so far (column: count): %s", counts)
