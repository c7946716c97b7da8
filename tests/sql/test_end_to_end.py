"""End to end: events on a real Kafka topic -> the SQL group -> whole tables equal the truth."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ops.truth.oracle import expected_rows
from tests.sql.builders import build_scenario
from tests.sql.harness import (
    assert_tables_match,
    create_campaign_topic,
    delete_topics,
    publish,
    running_group,
    settings_for,
    table_checksums,
    wait_stored,
)

pytestmark = [pytest.mark.integration]


def test_tables_equal_truth_and_replay_changes_nothing(
    database_url: str, kafka_bootstrap: str, unique_id: str
) -> None:
    campaign = f"SQL{unique_id}"
    topic = create_campaign_topic(kafka_bootstrap, campaign)
    engine = sa.create_engine(database_url)
    try:
        scenario = build_scenario(campaign, contacts=120)
        ends = publish(kafka_bootstrap, topic, scenario.events)
        group = f"sql-{unique_id}"
        settings = settings_for(database_url, campaign, kafka_bootstrap, group, table_prefix="df_")
        with running_group(settings) as running:
            wait_stored(engine, "df_", group, topic, ends, running=running)
            assert running.materializer is not None
            assert running.materializer.consumed_up_to(ends)
        assert_tables_match(engine, "df_", expected_rows(scenario.truth(), tp="df_"))
        before = table_checksums(engine, "df_")

        # Replay the whole topic with a new group id into the same tables.
        replay = f"replay-{unique_id}"
        settings = settings_for(database_url, campaign, kafka_bootstrap, replay, table_prefix="df_")
        with running_group(settings) as running:
            wait_stored(engine, "df_", replay, topic, ends, running=running)
        assert table_checksums(engine, "df_") == before
    finally:
        engine.dispose()
        delete_topics(kafka_bootstrap, [topic])
