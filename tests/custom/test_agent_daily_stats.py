"""The example group's arithmetic and idempotence, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from consumers.custom import GroupContext, InvalidEvent, TypedEnvelope
from consumers.custom.sample_events import sample_events, transaction_event
from consumers.runtime.envelope import Envelope
from examples.agent_daily_stats import AgentDailyStats, stats_of
from schemas import Event, TransactionState
from tests.custom.harnesses import AgentDailyStatsHarness


def batch_of(events: list[Event]) -> list[TypedEnvelope]:
    return [
        TypedEnvelope(e, Envelope("t", 0, i, e.key.encode(), b"", 0)) for i, e in enumerate(events)
    ]


def test_stats_count_phone_connections_and_sum_their_durations() -> None:
    event = transaction_event("c", "K1", 0, "anna", (30, 12.5), 1)
    stats = stats_of(event)
    assert (stats.agent, stats.day, stats.calls, stats.talk_seconds) == (
        "anna",
        "2026-03-02",
        2,
        42.5,
    )


def test_a_text_duration_is_an_invalid_event() -> None:
    with pytest.raises(InvalidEvent, match="not a number"):
        stats_of(transaction_event("c", "K1", 0, "anna", ("long",), 1))


def test_group_built_from_options_writes_to_the_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    group = AgentDailyStats(GroupContext("c", "agent_daily_stats", "g", {"url": url}))
    group.handle(batch_of([transaction_event("c", "K1", 0, "ben", (60,), 1)]))
    group.close()
    assert AgentDailyStats(engine=sa.create_engine(url)).daily_stats() == [
        ("ben", "2026-03-02", 1, 60.0)
    ]


def test_missing_url_option_names_the_option() -> None:
    with pytest.raises(ValueError, match="url"):
        AgentDailyStats(GroupContext("c", "n", "g", {}))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> sa.Engine:
    if request.param == "sqlite":
        return sa.create_engine(f"sqlite:///{tmp_path / 'stats.db'}")
    pg: sa.Engine = request.getfixturevalue("pg_engine")
    return pg


def test_handling_twice_and_out_of_order_changes_nothing(engine: sa.Engine) -> None:
    harness = AgentDailyStatsHarness(engine)
    events = sample_events("c")
    group = harness.make_group()
    group.handle(batch_of(events))
    once = harness.snapshot()
    group.handle(batch_of(events))
    group.handle(batch_of(list(reversed(events))))
    assert once == harness.snapshot() == harness.expected(events)
    assert len(once) > 5


def test_an_update_replaces_and_an_older_version_is_ignored(engine: sa.Engine) -> None:
    group = AgentDailyStats(engine=engine)
    old = transaction_event("c", "K1", 0, "anna", (10,), 1)
    new = transaction_event("c", "K1", 0, "anna", (70,), 2, TransactionState.UPDATED)
    group.handle(batch_of([old, new]))
    group.handle(batch_of([old]))
    assert group.daily_stats() == [("anna", "2026-03-02", 1, 70.0)]
