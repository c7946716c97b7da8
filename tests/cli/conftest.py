"""Fixtures for CLI tests: an in-process Dialfire simulator with a unique campaign id."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

SIM_TOKEN = "sim-token-7f3a"


@dataclass(frozen=True)
class RunningSimulator:
    """Where the simulator serves, which campaign and token it accepts, and its server object."""

    url: str
    campaign_id: str
    token: str
    server: object


def start_simulator(campaign_id: str, contacts: int, rate: float = 0.0) -> object:
    from simulator.activity import ActivityGenerator
    from simulator.campaign import Campaign
    from simulator.server import SimulatorServer

    campaign = Campaign.generate(11, contacts=contacts, inbound_calls=contacts // 4,
                                 campaign_id=campaign_id)  # fmt: skip
    activity = ActivityGenerator(campaign, rate=rate) if rate else None
    server = SimulatorServer(campaign, port=0, token=SIM_TOKEN, activity=activity)
    server.start()
    return server


def delete_campaign_topics(request: pytest.FixtureRequest, campaign_id: str) -> None:
    """Delete the topics a test's legacy run created (when the test used Kafka at all)."""
    if "kafka_bootstrap" not in request.fixturenames:
        return
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": request.getfixturevalue("kafka_bootstrap")})
    prefix = f"dbsync2.{campaign_id}."
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            try:
                future.result(timeout=30)
            except Exception as exc:  # cleanup only: never hide the test's own result
                print(f"warning: could not delete a test topic: {exc}")


@pytest.fixture
def simulator(unique_id: str, request: pytest.FixtureRequest) -> Iterator[RunningSimulator]:
    """A static simulated campaign of 40 contacts under a campaign id no other test uses."""
    campaign_id = f"CLI{unique_id}"
    server = start_simulator(campaign_id, contacts=40)
    try:
        yield RunningSimulator(server.url, campaign_id, SIM_TOKEN, server)  # type: ignore[attr-defined]
    finally:
        server.stop()  # type: ignore[attr-defined]
        delete_campaign_topics(request, campaign_id)
