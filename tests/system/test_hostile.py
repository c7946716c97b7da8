"""Hostile input through the whole pipeline: hostile fields, malformed answers, garbage bytes.

Also unknown fields: answers that are valid but carry keys the contract does not know, at every
level and of every JSON type, are carried through (attribute maps, SQL columns, webhook bodies)
without failing a cycle.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from ops.chaos.checks import verify, wait_quiet
from ops.chaos.kafka_probe import read_topic
from ops.chaos.stack import SQL_GROUPS, WEBHOOK_GROUP, Stack, StackOptions
from ops.truth.compare import comparable, read_column_map, read_table
from schemas import ContactSnapshot, TransactionEvent, decode_event
from schemas import headers as h
from simulator import unknown_fields
from tests.support.waiting import wait_for

QUIET_SECONDS = 180.0
MALFORMED = {"truncated", "wrong_types", "missing_task_log"}  # the simulator's modes
GARBAGE: tuple[bytes, ...] = (
    b"\x00\xff garbage \xfe",
    b"\xc3\x01" + b"\x00" * 8 + b"not an avro body",  # right magic, unknown fingerprint
    b'{"json": "but not avro"}',
    b"",
)


@pytest.fixture
def stack(
    kafka_bootstrap: str, postgres_url: str, mariadb_url: str, tmp_path: Path
) -> Iterator[Stack]:
    options = StackOptions(
        contacts=120, seed=5, hostile=True, interval="2s", bootstrap=kafka_bootstrap,
        proxies=False, postgres_url=postgres_url, mariadb_url=mariadb_url,
    )  # fmt: skip
    running = Stack(options, work_dir=tmp_path)
    try:
        yield running.start()
    finally:
        running.close()


def _changes(stack: Stack, count: int) -> float:
    stack.sim_post(f"/_sim/activity?n={count}")
    return time.time()


def _assert_equal_to_truth(stack: Stack, last_change: float) -> dict[str, object]:
    wait_quiet(stack, last_change, QUIET_SECONDS)
    report = verify(stack)
    assert report["mismatches"] == 0, report["sql"]
    assert report["lost"] == 0, report.get("webhook")
    return report


def _no_crash(stack: Stack) -> None:
    for name, component in stack.components.items():
        assert component.check_exit() is None, f"{name} exited:\n{component.log_tail()}"


@pytest.mark.integration
@pytest.mark.slow
def test_hostile_fields_malformed_answers_and_garbage_bytes(stack: Stack) -> None:
    # 1. Hostile custom fields (quotes, ;, SQL keywords, emoji, RTL, 10,000 chars, names that
    #    differ only in case, names over 64/128 chars): initial load equals the truth.
    report = _assert_equal_to_truth(stack, _changes(stack, 20))
    assert report["truth"]["contacts"] >= 120  # type: ignore[index]

    # 2. Malformed answers (truncated JSON, wrong types, missing $task_log) on half the requests
    #    while the campaign changes: cycles fail and are retried, nothing crashes.
    stack.sim_post("/_sim/faults", {"malformed_rate": 0.5})

    def enough_malformed() -> bool:
        _changes(stack, 3)
        return _malformed_modes_served(stack) == MALFORMED and _failed_cycles(stack) >= 3

    wait_for(enough_malformed, timeout=120, message="malformed answers never failed 3 cycles")
    _no_crash(stack)
    console = (stack.work / "logs" / "producer.log").read_text(errors="replace")
    assert "Traceback" not in console, console[-3000:]  # a clear one-line error, no crash
    assert stack.components["producer"].starts == 1  # no crash loop
    stack.sim_post("/_sim/faults", {"malformed_rate": 0.0})
    _assert_equal_to_truth(stack, _changes(stack, 10))  # nothing silently lost

    # 3. Garbage bytes straight onto the events topic: dead-lettered with a reason by every
    #    group, and the pipeline keeps going.
    producer = Producer({"bootstrap.servers": stack.bootstrap})
    for index, value in enumerate(GARBAGE):
        producer.produce(stack.topic, key=f"garbage-{index}".encode(), value=value)
    assert producer.flush(30) == 0
    _assert_equal_to_truth(stack, _changes(stack, 15))
    for group in (*SQL_GROUPS.values(), WEBHOOK_GROUP):
        letters = list(read_topic(stack.bootstrap, stack.dead_letter_topic(group)))
        keys = {m.key for m in letters}
        assert keys == {f"garbage-{i}".encode() for i in range(len(GARBAGE))}, group
        for letter in letters:
            assert letter.headers.get(h.DLQ_ERROR_CLASS), letter.headers
            assert letter.headers.get(h.DLQ_ERROR_MESSAGE), letter.headers
            assert letter.headers.get(h.DLQ_ORIGINAL_TOPIC) == stack.topic
        assert sorted(m.value or b"" for m in letters) == sorted(GARBAGE), group
    _no_crash(stack)


def _malformed_modes_served(stack: Stack) -> set[str]:
    stats = stack.http.get(f"{stack.sim_url}/_sim/stats", timeout=10).json()
    return {k.removeprefix("malformed_") for k in stats.get("faults", {}) if "malformed_" in k}


def _failed_cycles(stack: Stack) -> int:
    """Producer log lines (its own log file) that say a cycle failed and will be retried."""
    logs = stack.work / "logs"
    files = [p for p in logs.glob(f"{stack.campaign}_*.log")]
    return sum(p.read_text(errors="replace").count("cycle failed, retrying") for p in files)


@pytest.mark.integration
@pytest.mark.slow
def test_unknown_fields_are_carried_through_and_fail_nothing(stack: Stack) -> None:
    _assert_equal_to_truth(stack, _changes(stack, 5))
    # Every answer now carries unknown keys (contact: a plain and a `$` one, string, number,
    # boolean, null, object, array; task-log entries, transactions, connections, recordings,
    # pages, field definitions). The answers are valid: no cycle may fail.
    stack.sim_post("/_sim/faults", {"malformed_rate": 1.0, "malformed_modes": ["unknown_fields"]})
    last = _changes(stack, 25)
    wait_for(
        lambda: _malformed_modes_served(stack) == {"unknown_fields"},
        timeout=60,
        message="no answer with unknown fields was served",
    )
    _assert_equal_to_truth(stack, last)  # the known fields arrive as before; nothing lost
    _no_crash(stack)
    assert stack.components["producer"].starts == 1
    assert _failed_cycles(stack) == 0

    # The topic carries them: contact keys in the snapshot's and the transaction's contact map,
    # transaction and connection keys in their attribute maps (so in the webhook body too).
    snapshots: dict[str, ContactSnapshot] = {}
    carried: list[TransactionEvent] = []
    for message in read_topic(stack.bootstrap, stack.topic):
        event = decode_event(message.value)
        if isinstance(event, ContactSnapshot):
            if (
                event.contact_id not in snapshots
                or event.version > snapshots[event.contact_id].version
            ):
                snapshots[event.contact_id] = event
        elif isinstance(event, TransactionEvent) and f"{unknown_fields.PREFIX}tx_note" in (
            event.transaction
        ):
            carried.append(event)
    extended = {
        cid: s for cid, s in snapshots.items() if f"{unknown_fields.PREFIX}note" in s.contact
    }
    assert extended, "no contact snapshot carried the unknown keys"
    for contact_id, snapshot in extended.items():
        extras = unknown_fields.contact_extras(contact_id)
        assert {k: snapshot.contact.get(k) for k in extras} == extras
    assert carried, "no transaction event carried the unknown keys"
    for event in carried:
        body = event.webhook_payload()
        assert body["contact"] == dict(event.contact)
        transaction = body["transaction"]
        assert isinstance(transaction, dict)
        assert transaction.items() >= unknown_fields.TRANSACTION_EXTRAS.items()
        for connection in transaction.get("connections") or []:
            assert connection.items() >= unknown_fields.CONNECTION_EXTRAS.items()
    delivered = set(stack.receiver.deliveries()) if stack.receiver is not None else set()
    assert {e.event_id for e in carried} <= delivered  # POSTed (at least once)

    # SQL: each unknown contact key with a value became a column of the contacts table; the
    # latest snapshot's values are stored (objects and arrays as JSON text).
    for kind, database in stack.databases.items():
        engine = database.engine()
        try:
            rows = read_table(engine, "contacts")
            renamed = read_column_map(engine, "").get("contacts", {})
        finally:
            engine.dispose()
        for contact_id in extended:
            for key, value in unknown_fields.contact_extras(contact_id).items():
                if value is None:
                    continue  # an all-null field gets no column yet (docs/sql-materializer.md)
                stored = rows[contact_id].get(renamed.get(key, key))
                want, got = comparable(value, stored)
                assert want == got, f"{kind}: {contact_id}.{key}: {value!r} stored as {stored!r}"
