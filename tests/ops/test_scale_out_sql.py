"""Two instances of the SQL group share the partitions across rebalances; tables equal the truth."""

from __future__ import annotations

from collections.abc import Iterator

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
    wait_stored,
)
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(params=["postgresql", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(
        "pg_schema_url" if request.param == "postgresql" else "mariadb_db_url"
    )
    return url


@pytest.fixture
def campaign(kafka_bootstrap: str, unique_id: str) -> Iterator[str]:
    name = f"scale-{unique_id}"
    topic = create_campaign_topic(kafka_bootstrap, name)
    yield name
    delete_topics(kafka_bootstrap, [topic])


def test_two_sql_instances_share_partitions_and_the_tables_equal_the_truth(
    db_url: str, campaign: str, kafka_bootstrap: str
) -> None:
    engine = sa.create_engine(db_url)
    topic = f"dbsync2.{campaign}.events"
    scenario = build_scenario(campaign, contacts=90)
    events = scenario.events
    quarter = len(events) // 4
    settings = settings_for(db_url, campaign, kafka_bootstrap, "sql", table_prefix="s_")
    ends = publish(kafka_bootstrap, topic, events[:quarter])
    with running_group(settings) as a:
        wait_stored(engine, "s_", "sql", topic, ends, running=a)
        with running_group(settings) as b:  # a second instance joins: partitions move
            wait_for(
                lambda: b.materializer is not None and bool(b.materializer.positions()),
                60,
                message="the second instance got no partition",
            )
            ends = publish(kafka_bootstrap, topic, events[quarter : 2 * quarter])
            wait_stored(engine, "s_", "sql", topic, ends, running=b)
            assert b.materializer is not None
            assert b.materializer.events_applied > 0  # b applied events of the partitions it took
        # b left: a takes every partition back and applies the rest
        ends = publish(kafka_bootstrap, topic, events[2 * quarter :])
        wait_stored(engine, "s_", "sql", topic, ends, running=a)
    assert_tables_match(engine, "s_", expected_rows(scenario.truth(), tp="s_"))
    engine.dispose()
