"""The conformance suite, with real Kafka: the example group passes, a broken group fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from consumers.custom.conformance import (
    ConformanceFailure,
    ConsumerGroupConformance,
    check_crash_and_restart,
    check_replay_idempotent,
)
from tests.custom.broken_group import NaiveHarness
from tests.custom.harnesses import AgentDailyStatsHarness

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class TestAgentDailyStatsOnSqlite(ConsumerGroupConformance):
    """The example group, writing to SQLite."""

    @pytest.fixture
    def conformance_harness(self, tmp_path: Path) -> AgentDailyStatsHarness:
        return AgentDailyStatsHarness(sa.create_engine(f"sqlite:///{tmp_path / 'stats.db'}"))


class TestAgentDailyStatsOnPostgres(ConsumerGroupConformance):
    """The example group, writing to PostgreSQL."""

    @pytest.fixture
    def conformance_harness(self, pg_engine: sa.Engine) -> AgentDailyStatsHarness:
        return AgentDailyStatsHarness(pg_engine)


def test_a_non_idempotent_group_fails_the_replay_check(kafka_bootstrap: str) -> None:
    with pytest.raises(ConformanceFailure, match="sink state differs"):
        check_replay_idempotent(NaiveHarness(), kafka_bootstrap)


def test_a_group_that_acknowledges_before_writing_fails_the_crash_check(
    kafka_bootstrap: str,
) -> None:
    with pytest.raises(ConformanceFailure, match="sink state differs"):
        check_crash_and_restart(NaiveHarness(), kafka_bootstrap)
