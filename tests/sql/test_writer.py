"""Batch writes against real databases: stale-write guard, duplicates, hostile fields, evolution."""

from __future__ import annotations

import logging
import uuid

import pytest
import sqlalchemy as sa

from consumers.sql.engine import build_engine
from consumers.sql.schema import SchemaManager
from consumers.sql.writer import BatchWriter
from schemas import CampaignId, ContactId, ContactSnapshot, EventId
from tests.sql.builders import BASE_VERSION, observed
from tests.sql.harness import canon, read_table, settings_for

pytestmark = [pytest.mark.integration]

LONG_UNICODE = ("Ünïcødé ✓ 😀 " * 2000)[:20_000]
HOSTILE: dict[str, object] = {
    "Status": "upper",
    "status": "lower",
    "STATUS": "shouting",
    "first name": "Anna",
    'it\'s "quoted" `ticked` [bracketed]': "q",
    "a;b; DROP TABLE contacts;--": "Robert'); DROP TABLE contacts;--",
    "select": "keyword",
    "order": -3.75,
    "user": "keyword too",
    "percent %s %(x)s :name ?": "placeholders",
    "emoji_📞☎️": "smile 😀👍🏽 family 👨‍👩‍👧",
    "שם_לקוח": "שלום עולם",
    "$dbsync_version": "a field that looks like ours",
    "x" * 70: "longer than MySQL's 64",
    "ü" * 40: "70+ bytes in PostgreSQL",
    "y" * 140 + "_a": "longer than SQL Server's 128 (a)",
    "y" * 140 + "_b": "longer than SQL Server's 128 (b)",
    "long_value": LONG_UNICODE,
    "ten_thousand": "x" * 10_000,
    "big_number": 10**12,
    "decimal": 1234567.125,
    "nested": {"a": [1, 2, {"b": "ü"}], "ok": True},
    "flag": True,
    "empty": "",
}


def snapshot(contact_id: str, version: int, **fields: object) -> ContactSnapshot:
    """Return a contact snapshot with the given custom fields."""
    contact = {"$id": contact_id, "$status": "open", **fields}
    return ContactSnapshot(
        event_id=EventId(uuid.uuid4().hex),
        campaign_id=CampaignId("C"),
        contact_id=ContactId(contact_id),
        version=version,
        observed_at=observed(version),
        contact=contact,
        md5=uuid.uuid4().hex,
    )


@pytest.fixture
def writer(database_url: str) -> BatchWriter:
    """A writer on a fresh database, schema created."""
    engine = build_engine(settings_for(database_url, "C", "unused:9092", "g"))
    schema = SchemaManager(engine, "")
    schema.ensure_base()
    return BatchWriter(engine, schema, "g")


def engine_of(writer: BatchWriter) -> sa.Engine:
    engine: sa.Engine = writer._engine
    return engine


def test_stale_event_never_overwrites_a_newer_row(writer: BatchWriter) -> None:
    newer = snapshot("C1", BASE_VERSION + 20, city="Köln")
    writer.write([newer], {})
    writer.write([snapshot("C1", BASE_VERSION + 10, city="Berlin")], {})
    writer.write([snapshot("C1", BASE_VERSION + 20, city="Equal version is stale too")], {})
    row = read_table(engine_of(writer), "", "contacts")["C1"]
    assert row["city"] == "Köln"
    assert row["$dbsync_version"] == str(BASE_VERSION + 20)


def test_duplicate_keys_in_one_batch_collapse_to_the_newest(writer: BatchWriter) -> None:
    batch = [
        snapshot("D1", BASE_VERSION + 1, city="one"),
        snapshot("D1", BASE_VERSION + 3, city="three"),
        snapshot("D1", BASE_VERSION + 2, city="two"),
        snapshot("D2", BASE_VERSION + 5, city="only"),
    ]
    assert writer.write(batch, {("t", 0): 4}) == 2
    rows = read_table(engine_of(writer), "", "contacts")
    assert rows["D1"]["city"] == "three"
    assert rows["D2"]["city"] == "only"
    assert len(rows) == 2


def test_hostile_field_names_and_long_unicode_values_round_trip(writer: BatchWriter) -> None:
    writer.write([snapshot("H1", BASE_VERSION, **HOSTILE)], {})
    row = read_table(engine_of(writer), "", "contacts")["H1"]
    for name, value in HOSTILE.items():
        assert row.get(name) == canon(value), name
    assert len(row["long_value"]) == 20_000
    with engine_of(writer).connect() as conn:
        mapped = dict(
            conn.execute(sa.text("SELECT field_name, column_name FROM dbsync_columns")).all()
        )
    columns = [c.casefold() for c in mapped.values()]
    assert len(columns) == len(set(columns)), "column names must differ case-insensitively"
    assert mapped["$dbsync_version"].startswith("$dbsync_version_")  # ours stays ours
    assert mapped["Status"] == "Status"
    assert mapped["status"].startswith("status_") and mapped["STATUS"].startswith("STATUS_")


def test_new_field_adds_a_column_and_logs_the_ddl(
    writer: BatchWriter, caplog: pytest.LogCaptureFixture
) -> None:
    writer.write([snapshot("N1", BASE_VERSION, city="Graz")], {})
    with caplog.at_level(logging.INFO, logger="consumers.sql.schema"):
        writer.write([snapshot("N2", BASE_VERSION + 1, city="Wien", score=7.5)], {})
    assert any(
        "ALTER TABLE" in r.getMessage() and "score" in r.getMessage() for r in caplog.records
    )
    rows = read_table(engine_of(writer), "", "contacts")
    assert rows["N1"]["score"] is None
    assert rows["N2"]["score"] == "7.5"


def test_offsets_are_stored_with_the_rows(writer: BatchWriter) -> None:
    writer.write([snapshot("O1", BASE_VERSION)], {("topic-a", 0): 10, ("topic-a", 2): 7})
    writer.write([snapshot("O2", BASE_VERSION)], {("topic-a", 0): 12})
    assert writer.read_offsets("topic-a") == {0: 12, 2: 7}


def test_existing_table_in_another_schema_is_ignored(pg_schema_url: str, unique_id: str) -> None:
    """W17: a same-named table elsewhere must not hide our missing columns."""
    other = f"w17_{unique_id}"
    admin = sa.create_engine(sa.make_url(pg_schema_url).difference_update_query(["options"]))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{other}"'))
        conn.execute(sa.text(f'CREATE TABLE "{other}".df_contacts ("$id" text PRIMARY KEY)'))
    try:
        engine = build_engine(settings_for(pg_schema_url, "C", "unused:9092", "g"))
        schema = SchemaManager(engine, "df_")
        schema.ensure_base()
        BatchWriter(engine, schema, "g").write([snapshot("W1", BASE_VERSION, city="Ulm")], {})
        assert read_table(engine, "df_", "contacts")["W1"]["city"] == "Ulm"
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{other}" CASCADE'))
        admin.dispose()


def test_legacy_table_keeps_its_types_and_counts_truncation(mariadb_db_url: str) -> None:
    """A dbsync2 v1.15 table (varchar(50), no version column) is extended, never retyped."""
    engine = build_engine(settings_for(mariadb_db_url, "C", "unused:9092", "g"))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE contacts (`$id` varchar(50) NOT NULL PRIMARY KEY, "
                "`$status` varchar(50), `$changed` varchar(50), firstname text) "
                "CHARACTER SET utf16"
            )
        )
        conn.execute(sa.text("INSERT INTO contacts (`$id`, firstname) VALUES ('L0', 'old')"))
    schema = SchemaManager(engine, "")
    schema.ensure_base()
    writer = BatchWriter(engine, schema, "g")
    writer.write([snapshot("L1", BASE_VERSION, firstname="Anna", **{"$status": "s" * 60})], {})
    rows = read_table(engine, "", "contacts")
    assert rows["L1"]["$status"] == "s" * 50
    assert rows["L1"]["firstname"] == "Anna"
    assert writer.truncations.counts == {"$status": 1}
    # Cuts count once, when their rows commit: not for a rendering thrown away.
    long = snapshot("L2", BASE_VERSION, **{"$status": "t" * 60})
    assert writer.prepare([long]) is not None  # rendered ahead, then not used
    writer.write([long], {}, writer.prepare([long]))
    writer.write([long], {}, writer.prepare([snapshot("L3", BASE_VERSION)]))  # re-rendered
    assert writer.truncations.counts == {"$status": 3}
    # A row written by dbsync2 v1.15 (NULL version) is updated by any event.
    writer.write([snapshot("L0", BASE_VERSION, firstname="new")], {})
    assert read_table(engine, "", "contacts")["L0"]["firstname"] == "new"
    engine.dispose()


def test_latin1_postgres_database_stores_text_unchanged(postgres_url: str) -> None:
    """COPY text is sent as UTF-8 and converted by the server, whatever the database encoding."""
    database = f"t_latin1_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                f"CREATE DATABASE {database} ENCODING 'LATIN1' TEMPLATE template0 "
                "LC_COLLATE 'C' LC_CTYPE 'C'"
            )
        )
    url = sa.make_url(postgres_url).set(database=database).render_as_string(hide_password=False)
    engine = build_engine(settings_for(url, "C", "unused:9092", "g"))
    try:
        schema = SchemaManager(engine, "")
        schema.ensure_base()
        writer = BatchWriter(engine, schema, "g")
        writer.write([snapshot("E1", BASE_VERSION, city="Müller café ÄÖÜß")], {})
        assert read_table(engine, "", "contacts")["E1"]["city"] == "Müller café ÄÖÜß"
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {database}"))
        admin.dispose()
