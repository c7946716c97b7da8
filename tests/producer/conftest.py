"""Fixtures for producer tests: a simulator per test, and an in-process producer on real Kafka."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from confluent_kafka import Producer as KafkaProducer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from producer.clock import SystemClock
from producer.dialfire import DialfireClient, RetryPolicy
from producer.engine import Producer
from producer.kafka_config import producer_config
from producer.publisher import KafkaEventPublisher
from producer.settings import ProducerSettings
from producer.state import StateStore
from producer.topic_setup import ensure_events_topic
from schemas.codec import default_codec
from schemas.topics import events_topic
from simulator.campaign import Campaign
from simulator.server import SimulatorServer
from tests.producer.support import TopicRecord, read_topic

TOKEN = "sim-token-5ecret"
FORBIDDEN = "revoked-token-5ecret"
HISTORY_END = datetime(2026, 3, 1, tzinfo=UTC)
# Fast retries so injected faults cost milliseconds; Retry-After is honoured up to this cap.
TEST_RETRY = RetryPolicy(attempts=8, base_delay=0.01, max_delay=0.2, retry_after_cap=0.2)


@dataclass
class SimHandle:
    """A running simulator plus helpers for its control endpoints."""

    server: SimulatorServer
    campaign_id: str

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method,
            f"{self.server.url}/_sim/{path}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=60,
            **kwargs,
        )
        response.raise_for_status()
        return response.json()

    def truth(self) -> dict[str, Any]:
        data: dict[str, Any] = self.control("GET", "truth")
        return data

    def activity(self, n: int) -> dict[str, int]:
        data: dict[str, dict[str, int]] = self.control("POST", "activity", params={"n": n})
        return data["applied"]


@pytest.fixture
def campaign_id(kafka_bootstrap: str) -> Iterator[str]:
    """A fresh campaign id; its events topic is deleted after the test."""
    cid = f"PT{uuid.uuid4().hex[:10]}"
    yield cid
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.delete_topics([events_topic(cid)], operation_timeout=30).values():
        try:
            future.result(timeout=30)
        except Exception as exc:  # cleanup only
            print(f"warning: could not delete topic: {exc}")


@pytest.fixture
def start_sim(campaign_id: str) -> Iterator[Callable[..., SimHandle]]:
    """`start_sim(contacts=80, inbound_calls=20, faults=FaultConfig(...))` serves a campaign."""
    servers: list[SimulatorServer] = []

    def start(
        contacts: int = 80,
        inbound_calls: int = 20,
        seed: int = 7,
        hostile: bool = False,
        **kwargs: Any,
    ) -> SimHandle:
        campaign = Campaign.generate(
            seed,
            contacts,
            inbound_calls,
            hostile=hostile,
            campaign_id=campaign_id,
            history_end=HISTORY_END,
        )
        server = SimulatorServer(
            campaign, "127.0.0.1", token=TOKEN, forbidden_token=FORBIDDEN, **kwargs
        ).start()
        servers.append(server)
        return SimHandle(server, campaign_id)

    yield start
    for server in servers:
        server.stop()


@dataclass
class ProducerHandle:
    """An in-process producer wired to real Kafka and a simulator over real HTTP."""

    producer: Producer
    kafka: KafkaProducer
    state: StateStore
    session: requests.Session
    topic: str
    bootstrap: str

    def records(self) -> list[TopicRecord]:
        return read_topic(self.bootstrap, self.topic)

    def close(self) -> None:
        self.kafka.flush(30)
        self.state.close()
        self.session.close()


@pytest.fixture
def make_producer(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Callable[..., ProducerHandle]]:
    """`make_producer(sim, clock=..., **settings)`: a Producer with state in tmp_path/state."""
    handles: list[ProducerHandle] = []

    def make(sim: SimHandle, clock: Any = None, **overrides: Any) -> ProducerHandle:
        settings = replace(
            ProducerSettings(
                campaign_id=sim.campaign_id,
                interval=timedelta(seconds=1),
                overlap=timedelta(seconds=2),
            ),
            **overrides,
        )
        session = requests.Session()
        api = DialfireClient(
            session, sim.campaign_id, TOKEN, sim.server.url, timeout=(2, 10), retry=TEST_RETRY
        )
        topic = events_topic(sim.campaign_id)
        ensure_events_topic(
            AdminClient({"bootstrap.servers": kafka_bootstrap}), NewTopic, topic, partitions=3
        )
        kafka = KafkaProducer(producer_config(kafka_bootstrap, **{"linger.ms": 5}))
        publisher = KafkaEventPublisher(kafka, topic, default_codec())
        state = StateStore.open_in(tmp_path / "state", sim.campaign_id)
        producer = Producer(settings, api, publisher, state, clock or SystemClock())
        handle = ProducerHandle(producer, kafka, state, session, topic, kafka_bootstrap)
        handles.append(handle)
        return handle

    yield make
    for handle in handles:
        handle.close()
