"""The conformance harness of the example group AgentDailyStats (one empty database each)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa

from consumers.custom.sample_events import transaction_event
from examples.agent_daily_stats import AgentDailyStats, stats_of
from schemas import Event, TransactionEvent


class AgentDailyStatsHarness:
    """Runs AgentDailyStats against one database; expected values come from `stats_of`."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._reader = AgentDailyStats(engine=engine)

    def make_group(self) -> AgentDailyStats:
        return AgentDailyStats(engine=self.engine)

    def snapshot(self) -> list[tuple[str, str, int, float]]:
        return self._reader.daily_stats()

    def expected(self, events: Sequence[Event]) -> list[tuple[str, str, int, float]]:
        latest: dict[str, TransactionEvent] = {}
        for event in events:
            if isinstance(event, TransactionEvent):
                known = latest.get(event.transaction_id)
                if known is None or event.version > known.version:
                    latest[event.transaction_id] = event
        totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
        for event in latest.values():
            stats = stats_of(event)
            totals[(stats.agent, stats.day)][0] += stats.calls
            totals[(stats.agent, stats.day)][1] += stats.talk_seconds
        return [(a, d, int(c), float(t)) for (a, d), (c, t) in sorted(totals.items())]

    def poison_event(self, campaign: str) -> Event:
        """A transaction whose duration is text: the group must reject it with InvalidEvent."""
        return transaction_event(campaign, "C9999", 5, "anna", ("long",), 999_999_999)
