"""The database disappears for 30 s mid-load: the group pauses, resumes by itself, loses nothing
and dead-letters nothing."""

from __future__ import annotations

import time
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
    stored_offsets,
    wait_stored,
)
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE_SECONDS = 30.0


@pytest.fixture
def proxy(pg_schema_url: str) -> Iterator[TcpProxy]:
    url = sa.make_url(pg_schema_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    yield proxy
    proxy.close()


def test_consumer_rides_out_a_30_second_database_outage(
    pg_schema_url: str, proxy: TcpProxy, kafka_bootstrap: str, unique_id: str
) -> None:
    campaign = f"OUTAGE{unique_id}"
    group = f"sql-{unique_id}"
    topic = create_campaign_topic(kafka_bootstrap, campaign)
    direct = sa.create_engine(pg_schema_url)
    via_proxy = sa.make_url(pg_schema_url).set(host="127.0.0.1", port=proxy.port)
    url = via_proxy.render_as_string(hide_password=False)
    try:
        scenario = build_scenario(campaign, contacts=400, seed=5)
        half = len(scenario.events) // 2
        settings = settings_for(url, campaign, kafka_bootstrap, group, batch_size=100)
        with running_group(settings) as running:
            ends = publish(kafka_bootstrap, topic, scenario.events[:half])
            wait_stored(direct, "", group, topic, ends, running=running)
            proxy.cut()
            cut_at = time.monotonic()
            ends = publish(kafka_bootstrap, topic, scenario.events[half:])
            materializer = running.materializer
            assert materializer is not None
            wait_for(lambda: materializer.paused, timeout=30, message="the group never paused")
            during = stored_offsets(direct, "", group, topic)
            # Keep the database away for the whole outage; the group must stay paused.
            wait_for(
                lambda: materializer.paused and time.monotonic() - cut_at >= OUTAGE_SECONDS,
                timeout=OUTAGE_SECONDS + 10,
                interval=0.5,
                message="the group stopped being paused while the database was away",
            )
            assert stored_offsets(direct, "", group, topic) == during
            proxy.restore()
            wait_stored(direct, "", group, topic, ends, timeout=120, running=running)
            assert not materializer.paused
            assert materializer.dead_letters == 0
        assert_tables_match(direct, "", expected_rows(scenario.truth()))
    finally:
        direct.dispose()
        delete_topics(kafka_bootstrap, [topic])
