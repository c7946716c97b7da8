"""Initial load on real Kafka from the simulator over HTTP: exactly the ground truth, in order."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from schemas.events import ContactSnapshot, InboundCallEvent, TransactionEvent, TransactionState
from schemas.headers import EVENT_ID, EVENT_TYPE
from schemas.ids import md5_hex
from tests.producer.conftest import ProducerHandle, SimHandle
from tests.producer.support import assert_topic_matches_truth, expected_entities


def test_initial_load_publishes_exactly_the_ground_truth(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    sim = start_sim(contacts=120, inbound_calls=30)
    handle = make_producer(sim)

    report = handle.producer.run_initial_load()

    truth = sim.truth()
    records = handle.records()
    expected = expected_entities(truth)
    kinds = Counter(kind for kind, _ in expected)
    assert report.completed
    assert report.published == Counter(
        contact=kinds["contact"],
        transaction=kinds["transaction"],
        inbound_call=kinds["inbound_call"],
    )
    assert len(records) == len(expected)  # exactly one event per entity, nothing else
    assert_topic_matches_truth(records, truth)
    for record in records:
        assert record.headers[EVENT_ID] == record.event.event_id
        assert record.headers[EVENT_TYPE] in ("contact", "transaction", "inbound_call")
        if isinstance(record.event, TransactionEvent):
            assert record.event.state is TransactionState.NEW
            assert record.event.contact == expected[("contact", record.key)]["content"]
        if isinstance(record.event, InboundCallEvent):
            assert record.event.fired == record.event.call["call_time"]


def test_per_contact_order_holds_on_the_topic(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    sim = start_sim(contacts=60, inbound_calls=0)
    handle = make_producer(sim)
    handle.producer.run_initial_load()

    by_key: dict[str, list[tuple[int, int, object]]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    for record in handle.records():
        by_key[record.key].append((record.partition, record.offset, record.event))
        partitions[record.key].add(record.partition)
    assert by_key
    for key, items in by_key.items():
        assert len(partitions[key]) == 1, f"{key} spread over partitions"
        events = [event for _, _, event in sorted(items, key=lambda item: item[1])]
        assert isinstance(events[0], ContactSnapshot), key
        positions = [
            (e.task_log_index, e.transaction_index)
            for e in events[1:]
            if isinstance(e, TransactionEvent)
        ]
        assert positions == sorted(positions), key
        versions = [e.version for e in events]  # type: ignore[attr-defined]
        assert versions == sorted(set(versions)), key


def test_same_fired_transactions_do_not_collide(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    # The simulator gives contacts 0 and 1 a twin transaction with the same `fired` (W14).
    sim = start_sim(contacts=5, inbound_calls=0)
    handle = make_producer(sim)
    handle.producer.run_initial_load()

    truth = sim.truth()
    first = truth["contacts"][0]
    tx_events = [
        r.event
        for r in handle.records()
        if isinstance(r.event, TransactionEvent) and r.key == first["$id"]
    ]
    fired = Counter(e.fired for e in tx_events)
    twin_fired, count = fired.most_common(1)[0]
    assert count == 2
    twins = [e for e in tx_events if e.fired == twin_fired]
    assert {e.transaction_id for e in twins} == {
        md5_hex(first["$id"] + twin_fired),
        md5_hex(f"{first['$id']}{twin_fired}#{twins[1].transaction['sequence_nr']}"),
    }


def test_a_second_run_resends_nothing(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    sim = start_sim(contacts=40, inbound_calls=10)
    first = make_producer(sim)
    first.producer.run_initial_load()
    before = first.records()
    first.close()

    again = make_producer(sim)  # same state dir: a restart
    report = again.producer.run_initial_load()

    assert report.completed and report.total == 0
    assert len(again.records()) == len(before)


def test_hostile_content_survives_the_round_trip(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    sim = start_sim(contacts=40, inbound_calls=10, hostile=True)
    handle = make_producer(sim)

    handle.producer.run_initial_load()

    assert_topic_matches_truth(handle.records(), sim.truth())


def test_since_a_date_publishes_what_changed_since_then(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    sim = start_sim(contacts=120, inbound_calls=40)  # history ends 2026-03-01
    handle = make_producer(sim)
    since = datetime(2026, 2, 15, tzinfo=UTC)

    report = handle.producer.run_since(since)

    truth = sim.truth()
    recent = [c for c in truth["contacts"] if c["$entry_date"] >= "2026-02-15"]
    assert 0 < len(recent) < len(truth["contacts"])
    calls = [c for c in truth["inbound_calls"] if c["call_time"] >= "2026-02-15"]
    subset = dict(truth, contacts=recent, inbound_calls=calls)
    assert report.completed
    assert_topic_matches_truth(handle.records(), subset)
    assert handle.producer.state.checkpoint() is not None
