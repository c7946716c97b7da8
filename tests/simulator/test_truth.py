"""Ground truth, determinism, hostile fields and the test oracle's transaction ids."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ops.truth.oracle import expected_rows, fetch_truth, md5_hex, transaction_ids
from simulator.campaign import Campaign, compute_contact_md5
from simulator.hostile import HOSTILE_FIELDS, LONG_VALUE_LENGTH
from tests.simulator.conftest import TOKEN, SimClient, make_campaign

SimFactory = Callable[..., SimClient]


def _dump(campaign: Campaign) -> str:
    return json.dumps(
        {
            "truth": {k: v for k, v in campaign.build_truth().items() if k != "generated_at"},
            "events": [repr(event) for event in campaign.events],
        },
        sort_keys=True,
    )


def test_generation_is_deterministic_for_a_seed() -> None:
    assert _dump(make_campaign(seed=11)) == _dump(make_campaign(seed=11))
    assert _dump(make_campaign(seed=11)) != _dump(make_campaign(seed=12))


def test_truth_matches_fetched_contacts_and_md5s(static_sim: SimClient) -> None:
    truth = fetch_truth(static_sim.server.url, TOKEN)
    assert truth["campaign_id"] == "SIMTEST"
    assert truth["fields"] == static_sim.get("/fields/list").json()
    contacts = truth["contacts"]
    for start in range(0, len(contacts), 20):
        chunk = contacts[start : start + 20]
        fetched = static_sim.post_contacts([c["$id"] for c in chunk]).json()
        assert fetched == chunk
    for contact in contacts:
        assert contact["$md5"] == compute_contact_md5(contact)
    assert len({c["$id"] for c in contacts}) == len(contacts)


def test_campaign_covers_the_shapes_clients_must_handle(static_sim: SimClient) -> None:
    contacts = static_sim.truth()["contacts"]
    transactions = [tx for c in contacts for e in c["$task_log"] for tx in e["transactions"]]
    connections = [conn for tx in transactions for conn in tx["connections"]]
    recordings = [rec for conn in connections for rec in conn.get("recordings", [])]
    assert {tx["type"] for tx in transactions} == {"create", "update", "finish"}
    assert any("user" not in tx for tx in transactions)
    assert any(tx["revoked"] for tx in transactions)
    assert any(tx["status_detail"] == "$assigned" for tx in transactions)
    assert any(conn["technology"] == "transfer" for conn in connections)
    assert any(conn.get("third_party_connections") for conn in connections)
    assert any("location" not in rec for rec in recordings)
    assert any("location" in rec for rec in recordings)
    numbers = [c["customer_number"] for c in contacts] + [c["revenue"] for c in contacts]
    assert any(n >= 1e10 for n in numbers) and any(n == 12.5 for n in numbers)
    assert any("x_crm_sync" in c for c in contacts)
    assert any("x_ai_score" in tx for tx in transactions)
    assert any("x_codec" in conn for conn in connections)


def test_hostile_fields_are_served(sim_factory: SimFactory) -> None:
    sim = sim_factory(hostile=True, contacts=12)
    names = {f["name"] for f in sim.get("/fields/list").json()}
    assert {name for name, _ in HOSTILE_FIELDS} <= names
    assert {"Status", "status", "select", "order", "user"} <= names
    assert any(len(name) > 128 for name in names) and any(64 < len(name) <= 128 for name in names)
    ids = [item["id"] for item in sim.get("/contacts/list").json()["results"]]
    contacts = sim.post_contacts(ids).json()
    assert any(len(c["long_value"]) == LONG_VALUE_LENGTH for c in contacts)
    assert all(name in c for c in contacts for name, _ in HOSTILE_FIELDS)


def _same_fired_pairs(contact: dict[str, Any]) -> int:
    fired = [tx["fired"] for e in contact["$task_log"] for tx in e["transactions"]]
    return len(fired) - len(set(fired))


def test_expected_rows_keeps_same_fired_transactions_apart(static_sim: SimClient) -> None:
    truth = static_sim.truth()
    first, second = truth["contacts"][0], truth["contacts"][1]
    assert _same_fired_pairs(first) >= 1 and _same_fired_pairs(second) >= 1
    rows = expected_rows(truth)
    total = sum(len(e["transactions"]) for c in truth["contacts"] for e in c["$task_log"])
    assert len(rows["transactions"]) == total
    ids = [tx_id for entry_ids in transaction_ids(first) for tx_id in entry_ids]
    txs = [tx for e in first["$task_log"] for tx in e["transactions"]]
    assert ids[0] == md5_hex(first["$id"] + txs[0]["fired"])
    assert ids[1] == md5_hex(f"{first['$id']}{txs[1]['fired']}#{txs[1]['sequence_nr']}")
    second_txs = [tx for e in second["$task_log"] for tx in e["transactions"]]
    assert "sequence_nr" not in second_txs[1]
    second_ids = [tx_id for entry_ids in transaction_ids(second) for tx_id in entry_ids]
    assert second_ids[1] == md5_hex(f"{second['$id']}{second_txs[1]['fired']}#2")


def test_expected_rows_tables_and_columns(static_sim: SimClient) -> None:
    truth = static_sim.truth()
    rows = expected_rows(truth, tp="df_")
    assert set(rows) == {
        f"df_{t}"
        for t in ("contacts", "transactions", "connections", "recordings", "inbound_calls")
    }
    contact = next(iter(rows["df_contacts"].values()))
    assert "firstname" in contact and "$task_log" not in contact and "old_score" not in contact
    call = next(iter(rows["df_inbound_calls"].values()))
    assert "remote_number" in call and "calling_number" not in call
    connections = rows["df_connections"].values()
    assert all("disconnected" in conn for conn in connections)
    transfers = [conn for conn in connections if conn.get("technology") == "transfer"]
    assert transfers and all(conn.get("parent_connection_id") for conn in transfers)
    filtered = expected_rows(truth, fm="hi_updates_only", fp="sales_")
    assert 0 < len(filtered["transactions"]) < len(rows["df_transactions"])
    assert all(tx["task"].startswith("sales_") for tx in filtered["transactions"].values())
