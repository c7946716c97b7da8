"""`dbsync2 replay` of a SQL group: it rewrites the offsets kept in the target database too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from consumers.custom.harness_kafka import publish as publish_stamped
from consumers.custom.sample_events import sample_events
from consumers.sql.settings import SqlSettings
from ops.observability.kafka_groups import make_probe, watermarks
from ops.replay import main
from schemas import Event
from tests.ops.test_replay import MIDDLE, stamped
from tests.sql.harness import create_campaign_topic, delete_topics


def dump_tables(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every data table, in a stable order (the offsets table excluded)."""
    out: dict[str, list[tuple[object, ...]]] = {}
    for name in sorted(sa.inspect(engine).get_table_names()):
        if name.endswith("dbsync_offsets"):
            continue
        table = sa.Table(name, sa.MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(table)).all()
        out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


@pytest.fixture
def sql_campaign(kafka_bootstrap: str, unique_id: str) -> Iterator[tuple[str, str, list[Event]]]:
    """A campaign topic holding stamped sample events (deleted afterwards)."""
    campaign = f"replay-sql-{unique_id}"
    topic = create_campaign_topic(kafka_bootstrap, campaign)
    events = sample_events(campaign)
    publish_stamped(kafka_bootstrap, topic, stamped(events))
    try:
        yield campaign, topic, events
    finally:
        delete_topics(kafka_bootstrap, [topic])


def run_sql_group_until(settings: SqlSettings, engine: sa.Engine, topic: str) -> int:
    """Run the SQL group until its stored offsets reach the topic's end; return events applied."""
    from tests.sql.harness import running_group, wait_stored
    from tests.support.waiting import wait_for

    ends = {p: high for p, (_low, high) in end_offsets(settings.bootstrap_servers, topic).items()}
    with running_group(settings) as group:
        wait_stored(engine, "", settings.group, topic, ends, running=group)
        materializer = group.materializer
        assert materializer is not None
        # The database commit comes first; the group's own counters follow it.
        wait_for(lambda: materializer.consumed_up_to(ends), 30, message="positions lag the DB")
        return materializer.events_applied


def end_offsets(bootstrap: str, topic: str) -> dict[int, tuple[int, int]]:
    probe = make_probe(bootstrap)
    try:
        return watermarks(probe, topic, [0, 1, 2])
    finally:
        probe.close()


@pytest.mark.integration
@pytest.mark.slow
def test_sql_group_replayed_to_earliest_leaves_tables_identical(
    kafka_bootstrap: str,
    pg_schema_url: str,
    pg_engine: sa.Engine,
    sql_campaign: tuple[str, str, list[Event]],
    unique_id: str,
) -> None:
    from tests.sql.harness import settings_for, stored_offsets

    campaign, topic, events = sql_campaign
    settings = settings_for(pg_schema_url, campaign, kafka_bootstrap, f"sql-{unique_id}")
    assert run_sql_group_until(settings, pg_engine, topic) == len(events)
    before = dump_tables(pg_engine)
    assert len(before["contacts"]) == 12 and len(before["transactions"]) == 60

    code = main(
        [
            "--group",
            settings.group,
            "--campaign",
            campaign,
            "--to",
            "earliest",
            "--sql-url",
            pg_schema_url,
            "--bootstrap-servers",
            kafka_bootstrap,
        ]
    )
    assert code == 0
    assert stored_offsets(pg_engine, "", settings.group, topic) == {0: 0, 1: 0, 2: 0}
    assert run_sql_group_until(settings, pg_engine, topic) == len(events)
    assert dump_tables(pg_engine) == before


@pytest.mark.integration
@pytest.mark.slow
def test_sql_group_replayed_to_a_timestamp_reapplies_only_later_events(
    kafka_bootstrap: str,
    pg_schema_url: str,
    pg_engine: sa.Engine,
    sql_campaign: tuple[str, str, list[Event]],
    unique_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.sql.harness import settings_for, stored_offsets

    campaign, topic, events = sql_campaign
    settings = settings_for(pg_schema_url, campaign, kafka_bootstrap, f"sql-{unique_id}")
    run_sql_group_until(settings, pg_engine, topic)
    before = dump_tables(pg_engine)
    code = main(
        [
            "--group",
            settings.group,
            "--campaign",
            campaign,
            "--to",
            MIDDLE.isoformat(),
            "--sql-url",
            pg_schema_url,
            "--bootstrap-servers",
            kafka_bootstrap,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "database now" in out and "dbsync_offsets rewritten" in out
    stored = stored_offsets(pg_engine, "", settings.group, topic)
    assert sum(
        high - stored[p] for p, (_low, high) in end_offsets(kafka_bootstrap, topic).items()
    ) == (len(events) - len(events) // 2)
    assert run_sql_group_until(settings, pg_engine, topic) == len(events) - len(events) // 2
    assert dump_tables(pg_engine) == before
