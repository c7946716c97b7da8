"""Generate the SQL benchmark's contact snapshots as a stream and pre-fill a topic with them.

Events are made on the fly from a seeded random generator, so a 1,000,000-event run never holds
them all: the topic is filled chunk by chunk, and the references regenerate the same stream.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from schemas import CampaignId, ContactId, ContactSnapshot, EventId, encode_event, message_key
from schemas.topics import EVENTS, events_topic

SEED = 1

CUSTOM_TEXT: tuple[str, ...] = (
    "firstname",
    "lastname",
    "street",
    "city",
    "zip",
    "country",
    "email",
    "mobile",
)
CUSTOM_TEXT += ("product", "segment", "notes", "appointment", "birthday", "newsletter")
CUSTOM_NUMBERS = ("revenue", "customer_number", "score", "age", "discount")


def make_snapshot(index: int, campaign: str, rng: random.Random) -> ContactSnapshot:
    """Return one contact snapshot with 40 attributes (dbsync2 columns + custom fields)."""
    contact_id = f"B{index:012d}"
    version = 1_767_225_600_000_000 + index
    contact: dict[str, Any] = {
        "$id": contact_id,
        "$ref": f"REF-{index}",
        "$version": 3,
        "$campaign_id": campaign,
        "$task_id": "T01",
        "$task": "sales_call",
        "$status": rng.choice(("open", "success", "declined")),
        "$status_detail": rng.choice(("callback", "no_answer", "")),
        "$created_date": "2026-01-01T08:00:00.000Z",
        "$entry_date": "2026-01-01T08:00:00.000Z",
        "$owner": None,
        "$follow_up_date": "2026-02-01T08:00:00.000Z",
        "$phone": f"+49301{index:07d}",
        "$timezone": "Europe/Berlin",
        "$caller_id": "+4930555000",
        "$source": "import",
        "$comment": "prefers mornings" if index % 5 == 0 else "",
        "$error": None,
        "$recording": None,
        "$recording_url": None,
    }
    for name in CUSTOM_TEXT:
        contact[name] = f"{name}-{rng.randrange(10_000)} Müller"
    for name in CUSTOM_NUMBERS:
        contact[name] = rng.choice((12.5, 7, 99.99, 1250.25, index))
    return ContactSnapshot(
        event_id=EventId(f"{rng.getrandbits(128):032x}"),
        campaign_id=CampaignId(campaign),
        contact_id=ContactId(contact_id),
        version=version,
        observed_at=datetime.fromtimestamp(version / 1e6, tz=UTC),
        contact=contact,
        md5=f"{rng.getrandbits(128):032x}",
    )


def iter_snapshots(campaign: str, count: int) -> Iterator[ContactSnapshot]:
    """Yield the run's `count` snapshots; every call yields the same stream (fixed seed)."""
    rng = random.Random(SEED)
    for index in range(count):
        yield make_snapshot(index, campaign, rng)


def prefill_topic(bootstrap: str, campaign: str, events: Iterable[ContactSnapshot]) -> int:
    """Create the events topic and publish every event; return the message count."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    topic = events_topic(campaign)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    spec = NewTopic(topic, num_partitions=EVENTS.partitions, config=EVENTS.config())
    admin.create_topics([spec])[topic].result(timeout=30)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 50, "compression.type": "zstd"}
    )
    count = 0
    for event in events:
        count += 1
        while True:
            try:
                producer.produce(topic, value=encode_event(event), key=message_key(event))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("the benchmark topic was not filled")
    return count
