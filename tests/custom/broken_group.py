"""A deliberately broken consumer group: counts calls naively, so the conformance suite fails it.

Its two bugs are the classic ones: it adds to counters instead of upserting by transaction id
(so a re-delivered or replayed event counts twice), and it keeps its counts in memory until
`close`, acknowledging batches it has not made durable (so a crash loses them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from consumers.custom import TypedEnvelope
from examples.agent_daily_stats import stats_of
from schemas import TransactionEvent


class NaiveCallCounter:
    """Counts calls per (agent, day) into `store` - wrongly."""

    def __init__(self, store: Counter[tuple[str, str]]) -> None:
        self._store = store
        self._pending: Counter[tuple[str, str]] = Counter()

    def handle(self, batch: Sequence[TypedEnvelope]) -> None:
        for item in batch:
            if isinstance(item.event, TransactionEvent):
                stats = stats_of(item.event)
                self._pending[(stats.agent, stats.day)] += stats.calls

    def close(self) -> None:
        self._store.update(self._pending)


class NaiveHarness:
    """Conformance harness for NaiveCallCounter; expects one count per latest transaction."""

    def __init__(self) -> None:
        self.store: Counter[tuple[str, str]] = Counter()

    def make_group(self) -> NaiveCallCounter:
        return NaiveCallCounter(self.store)

    def snapshot(self) -> dict[tuple[str, str], int]:
        return {k: v for k, v in self.store.items() if v}

    def expected(self, events: Sequence[object]) -> dict[tuple[str, str], int]:
        latest: dict[str, TransactionEvent] = {}
        for event in events:
            if isinstance(event, TransactionEvent):
                latest[event.transaction_id] = event
        out: Counter[tuple[str, str]] = Counter()
        for event in latest.values():
            stats = stats_of(event)
            out[(stats.agent, stats.day)] += stats.calls
        return {k: v for k, v in out.items() if v}
