"""Fixtures: simulator servers started in-process on 127.0.0.1 with an ephemeral port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from simulator.campaign import Campaign
from simulator.faults import FaultConfig
from simulator.server import SimulatorServer

TOKEN = "test-token"
FORBIDDEN = "revoked-token"
CID = "SIMTEST"
HISTORY_END = datetime(2026, 3, 1, tzinfo=UTC)


class SimClient:
    """A requests session bound to one simulator, with helpers for each endpoint."""

    def __init__(self, server: SimulatorServer, token: str = TOKEN) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.api = f"{server.url}/api/campaigns/{CID}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(f"{self.api}{path}", params=params, timeout=30)

    def post_contacts(self, ids: object) -> requests.Response:
        return self.session.post(
            f"{self.api}/contacts/", params={"include_md5": "true"}, json=ids, timeout=30
        )

    def sim(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.server.url}/_sim/{path}", timeout=60, **kwargs)

    def truth(self) -> dict[str, Any]:
        response = self.sim("GET", "truth")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def all_events(self, **params: Any) -> list[str]:
        """Follow E4 cursors until the last page."""
        events: list[str] = []
        cursor = ""
        while True:
            query = dict(params, limit=params.get("limit", 1000))
            if cursor:
                query["cursor"] = cursor
            response = self.get("/contacts/transactions/", **query)
            response.raise_for_status()
            page = response.json()
            events.extend(page["results"])
            cursor = page["cursor"]
            if not cursor:
                return events


def make_campaign(seed: int = 7, contacts: int = 60, hostile: bool = False) -> Campaign:
    return Campaign.generate(
        seed, contacts, 40, hostile=hostile, campaign_id=CID, history_end=HISTORY_END
    )


@pytest.fixture(scope="module")
def static_sim() -> Iterator[SimClient]:
    """A server nobody mutates: tests of shapes, pagination and filters share it."""
    server = SimulatorServer(make_campaign(), token=TOKEN, forbidden_token=FORBIDDEN).start()
    try:
        yield SimClient(server)
    finally:
        server.stop()


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., SimClient]]:
    """``make(faults=FaultConfig(...), hostile=False, contacts=60)`` starts a private server."""
    servers: list[SimulatorServer] = []

    def make(
        faults: FaultConfig | None = None, hostile: bool = False, contacts: int = 60
    ) -> SimClient:
        campaign = make_campaign(contacts=contacts, hostile=hostile)
        server = SimulatorServer(campaign, token=TOKEN, forbidden_token=FORBIDDEN, faults=faults)
        servers.append(server.start())
        return SimClient(server)

    yield make
    for server in servers:
        server.stop()
