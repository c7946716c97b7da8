"""`dbsync2 resync sql` on real Kafka, PostgreSQL and MariaDB: build, swap, live group keeps on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from consumers.custom.harness_kafka import publish as publish_messages
from consumers.custom.sample_events import sample_events
from consumers.sql.tables import ALL_TABLES
from ops.observability.kafka_groups import make_probe, offsets_at, watermarks
from ops.resync import main
from ops.resync_swap import table_pairs
from ops.sql_offsets import SqlOffsetStore
from schemas import Event
from tests.ops.test_replay import MIDDLE, stamped
from tests.sql.harness import (
    create_campaign_topic,
    delete_topics,
    publish,
    running_group,
    settings_for,
    wait_stored,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def dump(engine: sa.Engine, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every data table with `prefix`, as column -> value, in a stable order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for spec in ALL_TABLES:
        table = sa.Table(spec.name(prefix), sa.MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(sa.select(table))]
        out[spec.entity] = sorted(rows, key=lambda r: repr(sorted(r.items())))
    return out


@pytest.fixture(params=["postgresql", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> str:
    name = "pg_schema_url" if request.param == "postgresql" else "mariadb_db_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def campaign(kafka_bootstrap: str, unique_id: str) -> Iterator[str]:
    name = f"resync-{unique_id}"
    topic = create_campaign_topic(kafka_bootstrap, name)
    yield name
    delete_topics(kafka_bootstrap, [topic])


def test_table_pairs_cover_every_data_table_and_the_column_mappings() -> None:
    pairs = dict(table_pairs("p_", "p_rs1_"))
    assert pairs["p_contacts"] == "p_rs1_contacts"
    assert pairs["p_dbsync_columns"] == "p_rs1_dbsync_columns"
    assert len(pairs) == len(ALL_TABLES) + 1


def test_resync_swaps_in_a_complete_copy_while_the_live_group_keeps_running(
    db_url: str, campaign: str, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = sa.create_engine(db_url)
    topic = f"dbsync2.{campaign}.events"
    events: list[Event] = sample_events(campaign, contacts=12, per_contact=6)
    third = len(events) // 3
    ends = publish(kafka_bootstrap, topic, events[:third])
    live = settings_for(db_url, campaign, kafka_bootstrap, "sql")
    with running_group(live) as group:
        wait_stored(engine, "", "sql", topic, ends, running=group)
        mark_damaged(engine)
        publish(kafka_bootstrap, topic, events[third : 2 * third])
        code = main(
            [
                "--url",
                db_url,
                "--campaign",
                campaign,
                "--bootstrap-servers",
                kafka_bootstrap,
                "--timeout",
                "120",
            ]
        )
        out, err = capsys.readouterr()
        assert code == 0, err
        old_prefix = out.split("kept as ")[1].split("*")[0]
        ends_all = publish(kafka_bootstrap, topic, events[2 * third :])  # after the swap
        wait_stored(engine, "", "sql", topic, ends_all, running=group)
        assert group.error is None
    reference = settings_for(db_url, campaign, kafka_bootstrap, "reference", table_prefix="ref_")
    with running_group(reference) as group:
        wait_stored(engine, "ref_", "reference", topic, ends_all, running=group)
    inspector = sa.inspect(engine)
    assert inspector.has_table(f"{old_prefix}contacts")  # the old tables are kept
    assert not inspector.has_table(f"{old_prefix.replace('old', 'rs')}contacts")  # swapped in
    assert dump(engine, "") == dump(engine, "ref_")
    assert marker_in(engine, f"{old_prefix}contacts") and not marker_in(engine, "contacts")
    engine.dispose()


def mark_damaged(engine: sa.Engine) -> None:
    """Put a row into the live contacts table that no event explains (the 'damage')."""
    table = sa.Table("contacts", sa.MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(table).values({"$id": "DAMAGED-ROW"}))


def marker_in(engine: sa.Engine, name: str) -> bool:
    table = sa.Table(name, sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        found = conn.execute(sa.select(table).where(table.c["$id"] == "DAMAGED-ROW")).first()
    return found is not None


def test_resync_from_a_timestamp_into_sqlite_builds_only_later_events(
    campaign: str, kafka_bootstrap: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    topic = f"dbsync2.{campaign}.events"
    events = sample_events(campaign, contacts=6, per_contact=4)
    messages = stamped(events)
    publish_messages(kafka_bootstrap, topic, messages)
    code = main(
        [
            "--url",
            url,
            "--campaign",
            campaign,
            "--from",
            MIDDLE.isoformat(),
            "--bootstrap-servers",
            kafka_bootstrap,
            "--timeout",
            "120",
        ]
    )
    assert code == 0, capsys.readouterr().err
    engine = sa.create_engine(url)
    reference = settings_for(url, campaign, kafka_bootstrap, "reference", table_prefix="ref_")
    probe = make_probe(kafka_bootstrap)
    try:
        starts = offsets_at(probe, topic, [0, 1, 2], int(MIDDLE.timestamp() * 1000))
        ends = {p: high for p, (_low, high) in watermarks(probe, topic, [0, 1, 2]).items()}
    finally:
        probe.close()
    SqlOffsetStore(engine, "ref_", "reference", topic).rewrite(
        {p: o if o >= 0 else ends[p] for p, o in starts.items()}
    )
    with running_group(reference) as group:
        wait_stored(engine, "ref_", "reference", topic, ends, running=group)
    live = dump(engine, "")
    assert live == dump(engine, "ref_")
    later = {e.contact_id for e in events[len(events) // 2 :]}
    assert {row["$id"] for row in live["contact"]} <= later
    assert (
        0
        < len(live["transaction"])
        < len({e.transaction_id for e in events if hasattr(e, "transaction_id")})
    )
    engine.dispose()
