"""Materialise calls and talk time per agent per day from transaction events (idempotently).

One row per transaction in `{prefix}agent_transaction_stats` (agent, day, calls, talk seconds,
version), upserted by transaction id and only when the incoming version is newer; the view
`{prefix}agent_daily_stats` sums them per agent and day. Duplicates, retries and replays
therefore change nothing, and an updated transaction replaces its earlier numbers.

A call is a connection with `technology` "phone"; talk time is the sum of their `duration`
(seconds). The day is the UTC date of the transaction's `fired`; the agent is its `user`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from consumers.custom import GroupContext, InvalidEvent, RetryableError, TypedEnvelope
from schemas import TransactionEvent

UNKNOWN_AGENT = "(unknown)"


@dataclass(frozen=True)
class TransactionStats:
    """The numbers one transaction contributes."""

    transaction_id: str
    agent: str
    day: str
    calls: int
    talk_seconds: float
    version: int


def stats_of(event: TransactionEvent) -> TransactionStats:
    """Return the transaction's contribution; raise InvalidEvent for a non-numeric duration."""
    calls, talk = 0, 0.0
    for connection in event.connections:
        if connection.attributes.get("technology", "phone") != "phone":
            continue
        calls += 1
        duration = connection.attributes.get("duration")
        if duration is None:
            continue
        if isinstance(duration, bool) or not isinstance(duration, int | float):
            raise InvalidEvent(
                f"transaction {event.transaction_id}: duration {duration!r} is not a number",
                error_class="NonNumericDuration",
            )
        talk += float(duration)
    agent = event.transaction.get("user")
    return TransactionStats(
        transaction_id=event.transaction_id,
        agent=str(agent) if agent else UNKNOWN_AGENT,
        day=event.fired[:10],
        calls=calls,
        talk_seconds=talk,
        version=event.version,
    )


def stats_table(prefix: str) -> sa.Table:
    """Return the per-transaction table."""
    return sa.Table(
        f"{prefix}agent_transaction_stats",
        sa.MetaData(),
        sa.Column("transaction_id", sa.String(64), primary_key=True),
        sa.Column("agent", sa.String(255), nullable=False, index=True),
        sa.Column("day", sa.String(10), nullable=False, index=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )


class AgentDailyStats:
    """A ConsumerGroup writing agent statistics; options: `url` (SQLAlchemy URL), `prefix`."""

    group_name = "agent_daily_stats"

    def __init__(self, context: GroupContext | None = None, *, engine: sa.Engine | None = None):
        prefix = context.option("prefix", "") if context is not None else ""
        if engine is None:
            if context is None:
                raise ValueError("pass a GroupContext with option url=..., or an engine")
            engine = sa.create_engine(context.option("url"))
        self.engine = engine
        self.table = stats_table(prefix)
        self.view_name = f"{prefix}agent_daily_stats"
        self._create_schema()

    def _create_schema(self) -> None:
        quoted = self.engine.dialect.identifier_preparer.quote
        select = (
            f"SELECT agent, day, SUM(calls) AS calls, SUM(talk_seconds) AS talk_seconds "
            f"FROM {quoted(self.table.name)} GROUP BY agent, day"
        )
        create = (
            "CREATE VIEW IF NOT EXISTS"
            if self.engine.dialect.name == "sqlite"
            else ("CREATE OR REPLACE VIEW")
        )
        with self.engine.begin() as conn:
            self.table.metadata.create_all(conn)
            conn.execute(sa.text(f"{create} {quoted(self.view_name)} AS {select}"))

    def handle(self, batch: Sequence[TypedEnvelope]) -> None:
        """Upsert the batch's transactions (newest version per transaction id wins)."""
        latest: dict[str, TransactionStats] = {}
        for item in batch:
            if isinstance(item.event, TransactionEvent):
                stats = stats_of(item.event)
                known = latest.get(stats.transaction_id)
                if known is None or stats.version > known.version:
                    latest[stats.transaction_id] = stats
        if not latest:
            return
        rows = [vars(s) for s in latest.values()]
        try:
            with self.engine.begin() as conn:
                conn.execute(self._upsert(), rows)
        except OperationalError as exc:
            raise RetryableError(f"database unavailable: {exc.orig}") from exc
        except DBAPIError as exc:
            raise InvalidEvent(f"database rejected the batch: {exc.orig}") from exc

    def _upsert(self) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        ins = dialect.insert(self.table)
        excluded = ins.excluded
        return ins.on_conflict_do_update(
            index_elements=[self.table.c.transaction_id],
            set_={c: excluded[c] for c in ("agent", "day", "calls", "talk_seconds", "version")},
            where=self.table.c.version < excluded.version,
        )

    def ready(self) -> bool:
        """Return True when the database answers (used by /readyz)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except OperationalError:
            return False
        return True

    def daily_stats(self) -> list[tuple[str, str, int, float]]:
        """Return (agent, day, calls, talk seconds) rows, sorted."""
        quoted = self.engine.dialect.identifier_preparer.quote
        query = sa.text(
            f"SELECT agent, day, calls, talk_seconds FROM {quoted(self.view_name)} "
            "ORDER BY agent, day"
        )
        with self.engine.connect() as conn:
            return [(str(a), str(d), int(c), float(t)) for a, d, c, t in conn.execute(query)]

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()
