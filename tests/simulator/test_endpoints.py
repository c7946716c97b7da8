"""E1-E5 over real HTTP: shapes, cursor pagination, date windows and server-side filters."""

from __future__ import annotations

import re
from typing import Any

from simulator.clock import format_query_ts, parse_ts
from tests.simulator.conftest import SimClient

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
FIELD_TYPES = {
    "text", "date", "calendar", "phone", "radiogroup", "dropdown", "autocomplete", "checkbox",
    "number", "textarea",
}  # fmt: skip


def _page(sim: SimClient, path: str, **params: Any) -> dict[str, Any]:
    response = sim.get(path, **params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_field_list_has_every_type_a_deleted_field_and_a_non_field(static_sim: SimClient) -> None:
    fields = static_sim.get("/fields/list").json()
    assert all(set(f) == {"type", "fieldType", "name", "state", "deleted"} for f in fields)
    live = [f for f in fields if f["type"] == "field" and not f["deleted"]]
    assert {f["fieldType"] for f in live} == FIELD_TYPES
    assert any(f["type"] == "field" and f["deleted"] for f in fields)
    assert any(f["type"] != "field" for f in fields)


def test_contact_list_pages_with_url_encoded_opaque_cursors(static_sim: SimClient) -> None:
    truth_ids = [c["$id"] for c in static_sim.truth()["contacts"]]
    seen: list[str] = []
    cursors: list[str] = []
    page = _page(static_sim, "/contacts/list", limit=7)
    while True:
        assert page["count"] == len(page["results"])
        assert all(set(item) == {"id", "md5"} for item in page["results"])
        seen.extend(item["id"] for item in page["results"])
        if not page["cursor"]:
            break
        cursors.append(page["cursor"])
        page = _page(static_sim, "/contacts/list", limit=7, cursor=page["cursor"])
    assert seen == truth_ids
    assert all(any(ch in c for ch in "+/=") for c in cursors)


def test_unencoded_cursor_is_rejected(static_sim: SimClient) -> None:
    cursor = _page(static_sim, "/contacts/list", limit=5)["cursor"]
    raw_url = f"{static_sim.api}/contacts/list?limit=5&cursor={cursor}"
    assert static_sim.session.get(raw_url, timeout=30).status_code == 400


def test_contact_list_changed_since_filters_by_entry_date(static_sim: SimClient) -> None:
    contacts = static_sim.truth()["contacts"]
    dates = sorted(c["$entry_date"][:10] for c in contacts)
    since = dates[len(dates) // 2]
    page = _page(static_sim, "/contacts/list", changedSince=since)
    expected = {c["$id"] for c in contacts if c["$entry_date"][:10] >= since}
    assert {item["id"] for item in page["results"]} == expected
    assert 0 < len(expected) < len(contacts)


def test_fetch_contacts_returns_full_objects(static_sim: SimClient) -> None:
    ids = [item["id"] for item in _page(static_sim, "/contacts/list", limit=20)["results"]]
    response = static_sim.post_contacts(ids)
    assert response.status_code == 200
    contacts = response.json()
    assert [c["$id"] for c in contacts] == ids
    for contact in contacts:
        assert re.fullmatch(r"[A-Z0-9]{16}", contact["$id"])
        assert {"$md5", "$task_log", "$version", "$entry_date", "$phone"} <= set(contact)
        assert TS_RE.match(contact["$entry_date"])
        for entry in contact["$task_log"]:
            assert {"task_name", "task_type", "transactions"} <= set(entry)


def test_fetch_contacts_without_include_md5_has_no_md5(static_sim: SimClient) -> None:
    ids = [item["id"] for item in _page(static_sim, "/contacts/list", limit=3)["results"]]
    response = static_sim.session.post(f"{static_sim.api}/contacts/", json=ids, timeout=30)
    assert [c["$id"] for c in response.json()] == ids
    assert all("$md5" not in c for c in response.json())
    assert all("$md5" in c for c in static_sim.post_contacts(ids).json())


def test_fetch_contacts_rejects_more_than_twenty_ids_and_non_arrays(static_sim: SimClient) -> None:
    assert static_sim.post_contacts([f"ID{i}" for i in range(21)]).status_code == 400
    assert static_sim.post_contacts({"ids": ["A"]}).status_code == 400
    assert static_sim.post_contacts("A").status_code == 400


def _events_in_truth(static_sim: SimClient) -> list[tuple[int, str]]:
    result = []
    for contact in static_sim.truth()["contacts"]:
        for entry in contact["$task_log"]:
            for tx in entry["transactions"]:
                result.append((parse_ts(tx["fired"]), contact["$id"]))
    return result


def test_transaction_events_follow_the_documented_format(static_sim: SimClient) -> None:
    events = static_sim.all_events(**{"from": "2025-01-01"})
    contacts = {c["$id"]: c for c in static_sim.truth()["contacts"]}
    assert len(events) >= len(_events_in_truth(static_sim))
    for event in events:
        fired, md5, contact_id, pointer = event.split("|")
        tl_idx, ta_idx = (int(part) for part in pointer.split(","))
        tx = contacts[contact_id]["$task_log"][tl_idx]["transactions"][ta_idx]
        assert fired.startswith(tx["fired"])
        assert re.fullmatch(r"[0-9a-f]{32}", md5)


def test_transaction_events_page_and_respect_from_to(static_sim: SimClient) -> None:
    everything = static_sim.all_events(**{"from": "2025-01-01"})
    paged = static_sim.all_events(**{"from": "2025-01-01", "limit": 13})
    assert paged == everything
    times = sorted(parse_ts(event.split("|")[0][:24]) for event in everything)
    low, high = times[len(times) // 4], times[len(times) // 2]
    window = static_sim.all_events(**{"from": format_query_ts(low), "to": format_query_ts(high)})
    assert window
    assert all(low <= parse_ts(e.split("|")[0][:24]) for e in window)
    zulu = static_sim.all_events(
        **{"from": format_query_ts(low) + "Z", "to": format_query_ts(high)}
    )
    assert zulu == window


def test_transaction_filters_type_hi_and_tasks(static_sim: SimClient) -> None:
    contacts = {c["$id"]: c for c in static_sim.truth()["contacts"]}

    def transaction(event: str) -> dict[str, Any]:
        _, _, contact_id, pointer = event.split("|")
        tl_idx, ta_idx = (int(part) for part in pointer.split(","))
        tx: dict[str, Any] = contacts[contact_id]["$task_log"][tl_idx]["transactions"][ta_idx]
        return tx

    start = {"from": "2025-01-01"}
    everything = [transaction(e) for e in static_sim.all_events(**start)]
    updates = [transaction(e) for e in static_sim.all_events(**start, type="update")]
    human = [transaction(e) for e in static_sim.all_events(**start, type="update", hi="true")]
    tasks = [transaction(e) for e in static_sim.all_events(**start, tasks="fc_,qc_")]
    assert updates and all(tx["type"] == "update" for tx in updates)
    assert len(updates) < len(everything)
    assert human and all(tx.get("user") for tx in human) and len(human) < len(updates)
    assert tasks and all(tx["task"].startswith(("fc_", "qc_")) for tx in tasks)
    assert any(tx["task"].startswith("sales_") for tx in everything)


def test_transaction_events_require_valid_from(static_sim: SimClient) -> None:
    assert static_sim.get("/contacts/transactions/").status_code == 400
    assert static_sim.get("/contacts/transactions/", **{"from": "yesterday"}).status_code == 400


def test_inbound_calls_shape_pagination_and_window(static_sim: SimClient) -> None:
    truth_calls = static_sim.truth()["inbound_calls"]
    calls: list[dict[str, Any]] = []
    page = _page(static_sim, "/inbound/calls/", **{"from": "2025-01-01", "limit": 9})
    while True:
        calls.extend(page["results"])
        if not page["cursor"]:
            break
        page = _page(
            static_sim, "/inbound/calls/", **{"from": "2025-01-01", "limit": 9},
            cursor=page["cursor"],
        )  # fmt: skip
    assert calls == truth_calls
    keys = {
        "id", "line_id", "campaign_id", "task_id", "task_name", "contact_id", "calling_number",
        "called_number", "call_time", "connect_time", "hangup_time", "user", "state",
        "connectable_time", "disposition", "dispatch_error",
    }  # fmt: skip
    assert all(keys <= set(call) for call in calls)
    assert any(call["contact_id"] is None for call in calls)
    assert all(isinstance(call["dispatch_error"], bool) for call in calls)
    middle = calls[len(calls) // 2]["call_time"]
    late = _page(static_sim, "/inbound/calls/", **{"from": middle[:-1]})["results"]
    assert late and all(call["call_time"] >= middle for call in late)
    early = _page(static_sim, "/inbound/calls/", **{"from": "2025-01-01", "to": middle[:10]})
    assert all(call["call_time"][:10] < middle[:10] for call in early["results"])


def test_unknown_route_and_wrong_campaign(static_sim: SimClient) -> None:
    url = static_sim.server.url
    assert static_sim.session.get(f"{url}/api/nothing", timeout=30).status_code == 404
    other = f"{url}/api/campaigns/OTHER/fields/list"
    assert static_sim.session.get(other, timeout=30).status_code == 403
