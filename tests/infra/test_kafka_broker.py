"""Keyed produce/consume through the real broker keeps per-key order and stable partitions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer

from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

KEYS = [f"contact-{n}" for n in range(12)]
PER_KEY = 15


def _text(raw: bytes | None) -> str:
    assert raw is not None
    return raw.decode()


def _partition(msg: Message) -> int:
    partition = msg.partition()
    assert partition is not None
    return partition


def _produce_round(bootstrap: str, topic: str, round_no: int) -> dict[str, set[int]]:
    """Produce PER_KEY messages per key, interleaved; return the partitions the broker acked."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    acked: dict[str, set[int]] = defaultdict(set)
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            errors.append(err)
        else:
            acked[_text(msg.key())].add(_partition(msg))

    for seq in range(PER_KEY):
        for key in KEYS:
            value = f"{round_no}:{seq}".encode()
            producer.produce(topic, key=key.encode(), value=value, on_delivery=on_delivery)
    assert producer.flush(30) == 0, "messages still queued after 30 s"
    assert not errors, errors
    return dict(acked)


def test_keyed_messages_keep_order_and_partition(
    kafka_bootstrap: str, topic_factory: Callable[..., str], unique_id: str
) -> None:
    topic = topic_factory(partitions=3)
    first = _produce_round(kafka_bootstrap, topic, 1)
    second = _produce_round(kafka_bootstrap, topic, 2)
    for key in KEYS:
        assert len(first[key]) == 1, f"{key} was spread over partitions {first[key]}"
        assert first[key] == second[key], f"{key} moved from {first[key]} to {second[key]}"
    assert len({p for parts in first.values() for p in parts}) > 1, "all keys on one partition"

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"g-{unique_id}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    received: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    expected = 2 * PER_KEY * len(KEYS)
    try:
        consumer.subscribe([topic])

        def all_received() -> bool:
            for msg in consumer.consume(num_messages=500, timeout=0.5):
                assert msg.error() is None, msg.error()
                round_no, seq = (int(part) for part in _text(msg.value()).split(":"))
                received[_text(msg.key())].append((round_no, seq, _partition(msg)))
            return sum(len(v) for v in received.values()) >= expected

        wait_for(all_received, timeout=60, message=f"did not receive {expected} messages")
    finally:
        consumer.close()

    assert sum(len(v) for v in received.values()) == expected
    for key in KEYS:
        order = [(round_no, seq) for round_no, seq, _ in received[key]]
        assert order == sorted(order), f"per-key order broken for {key}"
        assert {partition for _, _, partition in received[key]} == first[key]
