"""Fixtures for the webhook relay tests: a campaign topic, a receiver, a relay runner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from schemas.topics import events_topic
from tests.support.receiver import WebhookReceiver
from tests.webhook.helpers import Campaign, RelayRunner


@pytest.fixture
def campaign(kafka_bootstrap: str, unique_id: str) -> Iterator[Campaign]:
    """A fresh campaign with a 3-partition events topic; its topics are deleted afterwards."""
    camp = Campaign(f"wh{unique_id}", events_topic(f"wh{unique_id}"), "webhook", kafka_bootstrap)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(camp.topic, num_partitions=3)])[camp.topic].result(30)
    yield camp
    names = [camp.topic, camp.dlq_topic]
    existing = admin.list_topics(timeout=10).topics
    doomed = [n for n in names if n in existing]
    if not doomed:  # delete_topics refuses an empty list
        return
    for future in admin.delete_topics(doomed).values():
        try:
            future.result(30)
        except Exception as exc:  # cleanup only
            print(f"warning: could not delete a test topic: {exc}")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def relay_runner(campaign: Campaign) -> Iterator[RelayRunner]:
    runner = RelayRunner(campaign)
    yield runner
    runner.stop_all()
