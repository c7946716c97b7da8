"""Auth refusals and injected faults: 5xx, 429 with Retry-After, latency and malformed bodies."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable

import pytest
import requests

from simulator import unknown_fields
from simulator.faults import FaultConfig
from tests.simulator.conftest import FORBIDDEN, TOKEN, SimClient

SimFactory = Callable[..., SimClient]


def _status(session: requests.Session, url: str) -> int:
    return session.get(url, timeout=30).status_code


def test_missing_or_wrong_token_is_401_and_forbidden_token_is_403(static_sim: SimClient) -> None:
    url = f"{static_sim.api}/fields/list"
    assert requests.get(url, timeout=30).status_code == 401
    assert (
        requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=30).status_code == 401
    )
    assert requests.get(url, headers={"Authorization": TOKEN}, timeout=30).status_code == 401
    forbidden = {"Authorization": f"Bearer {FORBIDDEN}"}
    assert requests.get(url, headers=forbidden, timeout=30).status_code == 403
    truth = f"{static_sim.server.url}/_sim/truth"
    assert requests.get(truth, timeout=30).status_code == 401


def test_error_rate_injects_5xx_deterministically(sim_factory: SimFactory) -> None:
    runs = []
    for _ in range(2):
        sim = sim_factory(faults=FaultConfig(error_rate=0.5, seed=3))
        runs.append([sim.get("/fields/list").status_code for _ in range(40)])
    assert runs[0] == runs[1]
    assert set(runs[0]) <= {200, 500, 502, 503}
    assert 5 < sum(code != 200 for code in runs[0]) < 35
    stats = sim.sim("GET", "stats").json()
    assert stats["requests"]["E1"] == 40
    injected = sum(stats["faults"].get(f"http_{code}", 0) for code in (500, 502, 503))
    assert injected == sum(code != 200 for code in runs[1])


def test_429_bursts_carry_retry_after(sim_factory: SimFactory) -> None:
    sim = sim_factory(faults=FaultConfig(burst_429=2, burst_429_every=5, retry_after_s=3))
    responses = [sim.get("/fields/list") for _ in range(10)]
    assert [r.status_code for r in responses] == [429, 429, 200, 200, 200] * 2
    assert all(r.headers["Retry-After"] == "3" for r in responses if r.status_code == 429)
    assert sim.sim("GET", "stats").json()["faults"]["http_429"] == 4


def test_latency_is_added_to_api_requests_only(sim_factory: SimFactory) -> None:
    sim = sim_factory(faults=FaultConfig(latency_ms=300))
    started = time.monotonic()
    assert sim.get("/fields/list").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    assert sim.sim("GET", "stats").status_code == 200
    assert time.monotonic() - started < 0.3


def test_faults_can_be_changed_at_runtime_and_never_hit_sim_endpoints(
    sim_factory: SimFactory,
) -> None:
    sim = sim_factory()
    assert sim.get("/fields/list").status_code == 200
    answer = sim.sim("POST", "faults", json={"error_rate": 1.0, "forbidden_token": "other"})
    assert answer.status_code == 200 and answer.json()["error_rate"] == 1.0
    assert sim.get("/fields/list").status_code in {500, 502, 503}
    assert sim.sim("GET", "truth").status_code == 200
    assert sim.sim("POST", "activity", params={"n": 2}).status_code == 200
    headers = {"Authorization": "Bearer other"}
    assert requests.get(f"{sim.api}/fields/list", headers=headers, timeout=30).status_code == 403
    assert sim.sim("POST", "faults", json={"no_such_knob": 1}).status_code == 400
    assert sim.sim("POST", "faults", json={"error_rate": 0}).status_code == 200
    assert sim.get("/fields/list").status_code == 200


def _post_twenty(sim: SimClient) -> requests.Response:
    ids = [c["$id"] for c in sim.truth()["contacts"][:20]]
    return sim.post_contacts(ids)


def test_malformed_truncated_json(sim_factory: SimFactory) -> None:
    sim = sim_factory(faults=FaultConfig(malformed_rate=1.0, malformed_modes=("truncated",)))
    response = _post_twenty(sim)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    with pytest.raises(requests.JSONDecodeError):
        sim.get("/contacts/list").json()


def test_malformed_wrong_types(sim_factory: SimFactory) -> None:
    sim = sim_factory(faults=FaultConfig(malformed_rate=1.0, malformed_modes=("wrong_types",)))
    contacts = _post_twenty(sim).json()
    assert all(isinstance(c["$phone"], int) for c in contacts)
    fired = [tx["fired"] for c in contacts for e in c["$task_log"] for tx in e["transactions"]]
    assert fired and all(isinstance(value, int) for value in fired)
    page = sim.get("/contacts/transactions/", **{"from": "2025-01-01"}).json()
    assert isinstance(page["results"][0], int)
    assert isinstance(sim.get("/contacts/list").json()["results"][0]["md5"], int)


def test_unknown_fields_add_stable_extra_keys_of_every_json_type_at_every_level(
    sim_factory: SimFactory,
) -> None:
    sim = sim_factory(faults=FaultConfig(malformed_rate=1.0, malformed_modes=("unknown_fields",)))
    truth = {c["$id"]: c for c in sim.truth()["contacts"][:20]}
    contacts = _post_twenty(sim).json()
    assert contacts == _post_twenty(sim).json()  # stable while the mode is on
    for contact in contacts:
        contact_id = contact["$id"]
        extras = unknown_fields.contact_extras(contact_id)
        assert {k: contact[k] for k in extras} == extras
        assert {type(v) for v in extras.values()} == {bool, str, int, float, type(None), dict, list}
        known = {k: v for k, v in contact.items() if k not in extras and k != "$task_log"}
        assert known == {k: v for k, v in truth[contact_id].items() if k != "$task_log"}
        for entry in contact["$task_log"]:
            assert entry[f"{unknown_fields.PREFIX}entry"] == {"x": 1}
            for tx in entry["transactions"]:
                assert tx.items() >= unknown_fields.TRANSACTION_EXTRAS.items()
                for conn in tx.get("connections", []):
                    assert conn.items() >= unknown_fields.CONNECTION_EXTRAS.items()
    assert isinstance(contacts[0]["$task_log"][0]["transactions"][0]["fired"], str)  # valid
    assert sim.get("/fields/list").json()[0][f"{unknown_fields.PREFIX}item_n"] == 7
    page = sim.get("/contacts/list").json()
    assert page["results"][0][f"{unknown_fields.PREFIX}item"] == "extra"
    assert f"{unknown_fields.PREFIX}page" in page
    faults = Counter(sim.sim("GET", "stats").json()["faults"])
    assert faults["malformed_unknown_fields"] == 4


def test_unknown_fields_are_served_only_when_asked_for() -> None:
    assert "unknown_fields" not in FaultConfig().malformed_modes
    assert FaultConfig().updated({"malformed_modes": ["unknown_fields"]}).malformed_modes == (
        "unknown_fields",
    )


def test_malformed_missing_task_log_only_on_contacts(sim_factory: SimFactory) -> None:
    modes = ("missing_task_log",)
    sim = sim_factory(faults=FaultConfig(malformed_rate=1.0, malformed_modes=modes))
    contacts = _post_twenty(sim).json()
    assert contacts and all("$task_log" not in c for c in contacts)
    assert sim.get("/fields/list").json()[0]["type"] == "label"
    faults = Counter(sim.sim("GET", "stats").json()["faults"])
    assert faults["malformed_missing_task_log"] == 1
