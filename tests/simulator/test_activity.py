"""Live activity: new and updated transactions show up in E4, E2 and the ground truth."""

from __future__ import annotations

from collections.abc import Callable

from simulator.activity import ActivityGenerator
from simulator.clock import format_query_ts, now_ms
from simulator.server import SimulatorServer
from tests.simulator.conftest import TOKEN, SimClient, make_campaign
from tests.support.waiting import wait_for

SimFactory = Callable[..., SimClient]


def _pointers(events: list[str]) -> list[tuple[str, str]]:
    return [(event.split("|")[2], event.split("|")[3]) for event in events]


def test_activity_endpoint_adds_new_and_updated_transaction_events(
    sim_factory: SimFactory,
) -> None:
    sim = sim_factory()
    before = sim.truth()
    start = format_query_ts(now_ms())
    applied = sim.sim("POST", "activity", params={"n": 60}).json()["applied"]
    assert applied.get("new_transaction") and applied.get("update_transaction")
    assert applied.get("new_contact") and applied.get("new_inbound_call")
    events = sim.all_events(**{"from": start})
    assert len(events) >= applied["new_transaction"] + applied["update_transaction"]
    old_pointers = set()
    for contact in before["contacts"]:
        for tl_idx, entry in enumerate(contact["$task_log"]):
            for ta_idx in range(len(entry["transactions"])):
                old_pointers.add((contact["$id"], f"{tl_idx},{ta_idx}"))
    live = _pointers(events)
    assert any(pointer in old_pointers for pointer in live), "no update of an old transaction"
    assert any(pointer not in old_pointers for pointer in live), "no new transaction"
    assert sim.all_events(**{"from": "2025-01-01", "to": start[:10]}), "history is missing"


def test_activity_changes_md5_version_and_changed_since(sim_factory: SimFactory) -> None:
    sim = sim_factory()
    before = {c["$id"]: c for c in sim.truth()["contacts"]}
    today = format_query_ts(now_ms())[:10]
    assert sim.get("/contacts/list", changedSince=today).json()["results"] == []
    sim.sim("POST", "activity", params={"n": 30})
    after = {c["$id"]: c for c in sim.truth()["contacts"]}
    changed = sim.get("/contacts/list", changedSince=today).json()["results"]
    assert changed
    for item in changed:
        contact = after[item["id"]]
        assert item["md5"] == contact["$md5"]
        if item["id"] in before:
            assert contact["$md5"] != before[item["id"]]["$md5"]
            assert contact["$version"] > before[item["id"]]["$version"]
    assert len(after) > len(before)


def test_in_progress_connections_get_their_disconnect_later(sim_factory: SimFactory) -> None:
    sim = sim_factory(contacts=150)
    open_before = {
        (c["$id"], conn["id"])
        for c in sim.truth()["contacts"]
        for e in c["$task_log"]
        for tx in e["transactions"]
        for conn in tx["connections"]
        if "disconnected" not in conn
    }
    assert open_before, "the seeded campaign should have calls still in progress"
    sim.sim("POST", "activity", params={"n": 400})
    finished = {
        (c["$id"], conn["id"])
        for c in sim.truth()["contacts"]
        for e in c["$task_log"]
        for tx in e["transactions"]
        for conn in tx["connections"]
        if "disconnected" in conn
    }
    assert open_before & finished


def test_background_activity_runs_at_the_configured_rate() -> None:
    campaign = make_campaign()
    activity = ActivityGenerator(campaign, rate=50.0)
    server = SimulatorServer(campaign, token=TOKEN, activity=activity).start()
    try:
        sim = SimClient(server)
        start = format_query_ts(now_ms())
        wait_for(
            lambda: len(sim.all_events(**{"from": start})) >= 5,
            timeout=20,
            message="background activity produced no transaction events",
        )
    finally:
        server.stop()
    assert sum(activity.applied.values()) >= 5
