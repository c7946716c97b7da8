"""Test helpers: campaign topics, publishing events, running the group, reading whole tables."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumers.sql.materializer import SqlMaterializer
from consumers.sql.service import run_sql_group
from consumers.sql.settings import SqlSettings
from consumers.sql.urls import parse_database_url
from schemas import Event, encode_event, message_key
from schemas.topics import EVENTS, events_topic
from tests.conftest import TOPIC_READY_SECONDS, _topic_ready
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
TABLES = ("contacts", "transactions", "connections", "recordings", "inbound_calls")
PRIMARY_KEYS = {"contacts": "$id"}
# A test group reads a few thousand events; a minute only trips on a real hang.
CATCH_UP_SECONDS = 90.0


def create_campaign_topic(bootstrap: str, campaign: str, partitions: int = 3) -> str:
    """Create the campaign's events topic with the catalogue's config; return its name."""
    name = events_topic(campaign)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    spec = NewTopic(name, num_partitions=partitions, config=EVENTS.config())
    admin.create_topics([spec])[name].result(timeout=TOPIC_READY_SECONDS)
    wait_for(
        lambda: _topic_ready(admin, name, partitions),
        timeout=TOPIC_READY_SECONDS,
        message=f"topic {name} not ready",
    )
    return name


def delete_topics(bootstrap: str, names: Sequence[str]) -> None:
    """Delete test topics (best effort)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics(list(names), operation_timeout=30).values():
        try:
            future.result(timeout=30)
        except Exception as exc:  # cleanup only
            print(f"warning: could not delete a test topic: {exc}")


def publish(
    bootstrap: str,
    topic: str,
    events: Sequence[Event],
    raw: Sequence[tuple[int, bytes, bytes]] = (),
) -> dict[int, int]:
    """Publish events in order (and raw (position, key, value) messages); return end offsets."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    ends: dict[int, int] = {}
    failures: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            failures.append(str(err))
            return
        ends[msg.partition()] = max(ends.get(msg.partition(), 0), msg.offset() + 1)

    inserts = {position: (key, value) for position, key, value in raw}
    for index, event in enumerate(events):
        if index in inserts:
            key, value = inserts[index]
            producer.produce(topic, value=value, key=key, on_delivery=delivered)
        producer.produce(
            topic, value=encode_event(event), key=message_key(event), on_delivery=delivered
        )
        producer.poll(0)
    assert producer.flush(60) == 0
    assert not failures, failures
    return ends


def settings_for(
    url: str, campaign: str, bootstrap: str, group: str, **overrides: Any
) -> SqlSettings:
    """Return settings for a test run of the group."""
    values: dict[str, Any] = {
        "url": parse_database_url(url),
        "campaign": campaign,
        "group": group,
        "bootstrap_servers": bootstrap,
        "batch_size": 500,
        "batch_wait_ms": 100,
        "session_timeout_ms": 6000,
    }
    values.update(overrides)
    return SqlSettings(**values)


@dataclass
class RunningGroup:
    """A materializer running in a background thread."""

    thread: threading.Thread
    stop: threading.Event
    ready: threading.Event
    materializer: SqlMaterializer | None = None
    error: BaseException | None = None


@contextmanager
def running_group(settings: SqlSettings) -> Iterator[RunningGroup]:
    """Run the SQL group in a thread for the duration of the block."""
    stop = threading.Event()
    group = RunningGroup(threading.Thread(), stop, threading.Event())

    def started(materializer: SqlMaterializer) -> None:
        group.materializer = materializer
        group.ready.set()

    def target() -> None:
        try:
            run_sql_group(settings, stop, on_started=started)
        except BaseException as exc:
            group.error = exc

    group.thread = threading.Thread(target=target, name="sql-group", daemon=True)
    group.thread.start()
    try:
        yield group
    finally:
        stop.set()
        group.thread.join(60)
        assert not group.thread.is_alive(), "the SQL group did not stop"
    if group.error is not None:
        raise group.error


def stored_offsets(engine: sa.Engine, prefix: str, group: str, topic: str) -> dict[int, int]:
    """Return the offsets the group stored in the database (empty before the first batch)."""
    quote = engine.dialect.identifier_preparer.quote
    query = sa.text(
        f"SELECT {quote('partition')}, next_offset FROM {quote(prefix + 'dbsync_offsets')} "
        "WHERE group_id = :g AND topic = :t"
    )
    try:
        with engine.connect() as conn:
            return {int(p): int(o) for p, o in conn.execute(query, {"g": group, "t": topic})}
    except sa.exc.DBAPIError:
        return {}


def wait_stored(
    engine: sa.Engine,
    prefix: str,
    group: str,
    topic: str,
    ends: dict[int, int],
    timeout: float = CATCH_UP_SECONDS,
    running: RunningGroup | None = None,
) -> None:
    """Wait until the database holds offsets at or past `ends` for every partition."""

    def done() -> bool:
        if running is not None and running.error is not None:
            raise running.error
        stored = stored_offsets(engine, prefix, group, topic)
        return all(stored.get(p, 0) >= end for p, end in ends.items())

    wait_for(done, timeout=timeout, interval=0.2, message=f"group {group} never caught up")


def canon(value: Any) -> Any:
    """Return a comparable form of a stored or expected value (numbers, bools, JSON, '')."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        text = format(number.normalize(), "f")
        return text
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def read_table(engine: sa.Engine, prefix: str, name: str) -> dict[str, dict[str, Any]]:
    """Return primary key -> {field name: canonical value} of a table (custom columns mapped)."""
    quote = engine.dialect.identifier_preparer.quote
    table = f"{prefix}{name}"
    mapping: dict[str, str] = {}
    with engine.connect() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT table_name, column_name, field_name FROM "
                + quote(prefix + "dbsync_columns")
            )
        )
        for table_name, column_name, field_name in columns:
            if table_name == table:
                mapping[column_name] = field_name
        result = conn.execute(sa.text(f"SELECT * FROM {quote(table)}"))
        keys = list(result.keys())
        pk = PRIMARY_KEYS.get(name, "id")
        out: dict[str, dict[str, Any]] = {}
        for row in result:
            values = dict(zip(keys, row, strict=True))
            out[str(values[pk])] = {mapping.get(k, k): canon(v) for k, v in values.items()}
    return out


def table_checksums(engine: sa.Engine, prefix: str) -> dict[str, str]:
    """Return an md5 over every row (all columns, sorted by key) of each table."""
    sums = {}
    for name in TABLES:
        rows = read_table(engine, prefix, name)
        text = json.dumps(sorted(rows.items()), sort_keys=True, ensure_ascii=False)
        sums[name] = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
    return sums


def assert_tables_match(
    engine: sa.Engine, prefix: str, expected: dict[str, dict[str, dict[str, Any]]]
) -> None:
    """Assert each table holds exactly the expected keys, and each expected field's value."""
    for name in TABLES:
        actual = read_table(engine, prefix, name)
        wanted = expected[f"{prefix}{name}"]
        assert set(actual) == set(wanted), f"{name}: keys differ"
        for key, row in wanted.items():
            got = actual[key]
            for field, value in row.items():
                assert got.get(field) == canon(value), (name, key, field, got.get(field), value)
            assert got["$dbsync_version"] is not None
            assert got["$changed"] is not None and got["$changed"].endswith("Z")


def run_group_process(
    url: str, campaign: str, bootstrap: str, group: str, log_path: Path
) -> subprocess.Popen[bytes]:
    """Start `dbsync2 consume sql` as a subprocess (settings from the environment), logging to
    `log_path` (a file, not a pipe: a full pipe would block the consumer)."""
    env = dict(os.environ)
    env.update(
        DBSYNC_URL=url,
        DBSYNC_CAMPAIGN=campaign,
        DBSYNC_GROUP=group,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        DBSYNC_BATCH_SIZE="100",
        DBSYNC_BATCH_WAIT_MS="50",
        DBSYNC_SESSION_TIMEOUT_MS="6000",
        PYTHONPATH=str(REPO),
    )
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "dbsync2.cli", "consume", "sql"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list[Any]:
    """Return the first `count` messages of a one-partition topic (e.g. a dead-letter topic)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{topic}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list[Any] = []
    try:

        def enough() -> bool:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                messages.append(msg)
            return len(messages) >= count

        wait_for(enough, timeout=timeout, interval=0, message=f"{topic}: fewer than {count}")
    finally:
        consumer.close()
    return messages
