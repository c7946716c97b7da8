"""SIGKILL the consumer process at random points of a load; the restarted group's tables are
exactly the truth: nothing lost, nothing applied twice (offsets commit with the rows)."""

from __future__ import annotations

import random
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from ops.truth.oracle import expected_rows
from tests.sql.builders import build_scenario
from tests.sql.harness import (
    assert_tables_match,
    create_campaign_topic,
    delete_topics,
    publish,
    run_group_process,
    stored_offsets,
    table_checksums,
    wait_stored,
)
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILLS = 5


def test_sigkill_at_random_points_then_restart_gives_the_truth(
    pg_schema_url: str, kafka_bootstrap: str, unique_id: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "consumer.log"
    campaign = f"CRASH{unique_id}"
    group = f"sql-{unique_id}"
    topic = create_campaign_topic(kafka_bootstrap, campaign)
    engine = sa.create_engine(pg_schema_url)
    rng = random.Random(unique_id)
    try:
        scenario = build_scenario(campaign, contacts=700, seed=11)
        ends = publish(kafka_bootstrap, topic, scenario.events)
        total = sum(ends.values())
        assert total >= 3000
        progress_at_kill = []
        for _ in range(KILLS):
            before = sum(stored_offsets(engine, "", group, topic).values())
            target = min(total - 1, before + rng.randrange(1, 400))
            process = run_group_process(pg_schema_url, campaign, kafka_bootstrap, group, log_path)
            try:
                wait_for(
                    lambda t=target, p=process: (
                        sum(stored_offsets(engine, "", group, topic).values()) >= t
                        or p.poll() is not None
                    ),
                    timeout=90,
                    interval=0.01,
                    message="the consumer made no progress",
                )
                assert process.poll() is None, log_path.read_text()[-3000:]
                process.send_signal(signal.SIGKILL)
            finally:
                process.wait(30)
            progress_at_kill.append(sum(stored_offsets(engine, "", group, topic).values()))
        assert sum(1 for p in progress_at_kill if 0 < p < total) >= 3, progress_at_kill

        process = run_group_process(pg_schema_url, campaign, kafka_bootstrap, group, log_path)
        try:
            wait_stored(engine, "", group, topic, ends)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0, log_path.read_text()[-3000:]
        assert_tables_match(engine, "", expected_rows(scenario.truth()))
        with engine.connect() as conn:
            for name in ("contacts", "transactions", "connections"):
                key = '"$id"' if name == "contacts" else "id"
                dupes = conn.execute(
                    sa.text(f"SELECT count(*) - count(DISTINCT {key}) FROM {name}")
                ).scalar()
                assert dupes == 0
        assert table_checksums(engine, "")
    finally:
        engine.dispose()
        delete_topics(kafka_bootstrap, [topic])
