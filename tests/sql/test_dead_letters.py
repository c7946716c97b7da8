"""A poison event lands in the dead-letter topic with its headers while its neighbours commit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from schemas import headers as h
from schemas.topics import dead_letter_topic
from tests.sql.builders import BASE_VERSION
from tests.sql.harness import (
    create_campaign_topic,
    delete_topics,
    publish,
    read_table,
    read_topic,
    running_group,
    settings_for,
    wait_stored,
)
from tests.sql.test_writer import snapshot

pytestmark = [pytest.mark.integration]


@pytest.mark.parametrize("database_url", ["postgresql", "mariadb"], indirect=True)
def test_poison_event_is_dead_lettered_and_neighbours_are_written(
    database_url: str, kafka_bootstrap: str, unique_id: str
) -> None:
    campaign = f"POISON{unique_id}"
    group = f"sql-{unique_id}"
    topic = create_campaign_topic(kafka_bootstrap, campaign, partitions=1)
    dlq = dead_letter_topic(campaign, group)
    engine = sa.create_engine(database_url)
    try:
        first = [snapshot(f"A{i}", BASE_VERSION + i, amount=i * 1.5) for i in range(10)]
        second = [snapshot(f"B{i}", BASE_VERSION + 100 + i, amount=i) for i in range(10)]
        poison = snapshot("B_POISON", BASE_VERSION + 200, amount="not-a-number")
        second.insert(4, poison)
        settings = settings_for(database_url, campaign, kafka_bootstrap, group)
        with running_group(settings) as running:
            ends = publish(kafka_bootstrap, topic, first)
            wait_stored(engine, "", group, topic, ends, running=running)
            # Garbage bytes (undecodable) before the 8th event of the second batch.
            ends = publish(kafka_bootstrap, topic, second, raw=[(7, b"garbage", b"\xc3\x01junk")])
            wait_stored(engine, "", group, topic, ends, running=running)
        rows = read_table(engine, "", "contacts")
        assert {f"B{i}" for i in range(10)} | {f"A{i}" for i in range(10)} == set(rows)
        assert rows["B3"]["amount"] == "3"
        letters = read_topic(kafka_bootstrap, dlq, 2)
        by_key = {m.key(): m for m in letters}
        assert set(by_key) == {b"B_POISON", b"garbage"}
        poisoned = dict(by_key[b"B_POISON"].headers())
        assert poisoned[h.DLQ_ORIGINAL_TOPIC].decode() == topic
        assert poisoned[h.DLQ_ORIGINAL_PARTITION] == b"0"
        assert int(poisoned[h.DLQ_ORIGINAL_OFFSET]) == 10 + 4
        assert poisoned[h.DLQ_ATTEMPTS] == b"3"
        assert (
            b"DataError" in poisoned[h.DLQ_ERROR_CLASS] or b"1366" in poisoned[h.DLQ_ERROR_MESSAGE]
        )
        assert b"dbsync" not in poisoned[h.DLQ_ERROR_MESSAGE]  # no credentials, no user name
        assert poisoned[h.DLQ_FIRST_ATTEMPT_AT] and poisoned[h.DLQ_LAST_ATTEMPT_AT]
        garbage = dict(by_key[b"garbage"].headers())
        assert garbage[h.DLQ_ERROR_CLASS] == b"DecodeError"
        assert by_key[b"garbage"].value() == b"\xc3\x01junk"
    finally:
        engine.dispose()
        delete_topics(kafka_bootstrap, [topic, dlq])
