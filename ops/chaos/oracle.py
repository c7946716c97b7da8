"""Derive the rows dbsync2 tables must hold from the simulator's ground truth (`/_sim/truth`).

The same rules as the test oracle (tests/support/dialfire_truth.py), kept here because ops/ must
not import tests/: §4.3 columns, §4.5 custom fields, §4.7 entity derivation, W14 ids.
"""

from __future__ import annotations

import hashlib
from typing import Any

import requests

Row = dict[str, Any]
Tables = dict[str, dict[str, Row]]
TABLES = ("contacts", "transactions", "connections", "recordings", "inbound_calls")

CONTACT = [
    "$id",
    "$md5",
    "$ref",
    "$version",
    "$campaign_id",
    "$task_id",
    "$task",
    "$status",
    "$status_detail",
    "$created_date",
    "$entry_date",
    "$owner",
    "$follow_up_date",
    "$phone",
    "$timezone",
    "$caller_id",
    "$source",
    "$comment",
    "$error",
    "$recording",
    "$recording_url",
]
TRANSACTION = [
    "id",
    "contact_id",
    "task_id",
    "task",
    "status",
    "status_detail",
    "fired",
    "pause_time_sec",
    "edit_time_sec",
    "wrapup_time_sec",
    "user",
    "user_loginName",
    "user_branch",
    "user_tenantAlias",
    "actor",
    "type",
    "result",
    "trigger",
    "isHI",
    "revoked",
]
CONNECTION = [
    "id",
    "parent_connection_id",
    "transfer_target_address",
    "call_uuid",
    "global_call_uuid",
    "transaction_id",
    "task_id",
    "contact_id",
    "phone",
    "user",
    "actor",
    "hangup_party",
    "isThirdPartyConnection",
    "dialerdomain",
    "fired",
    "started",
    "initiated",
    "connected",
    "disconnected",
    "ended",
    "duration",
    "remote_number",
    "line_number",
    "technology",
    "result",
    "code",
    "call_initiated",
    "call_connected",
    "call_disconnected",
]
RECORDING = ["id", "contact_id", "connection_id", "started", "stopped", "filename", "location"]
INBOUND = [
    "id",
    "line_id",
    "campaign_id",
    "task_id",
    "task_name",
    "contact_id",
    "remote_number",
    "line_number",
    "started",
    "connected",
    "disconnected",
    "user",
    "state",
    "connectable_time",
    "disposition",
    "dispatch_error",
]
INBOUND_RENAMED = {
    "calling_number": "remote_number",
    "called_number": "line_number",
    "call_time": "started",
    "connect_time": "connected",
    "hangup_time": "disconnected",
}


def md5_hex(text: str) -> str:
    """Lower-case md5 hex of UTF-8 text."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def fetch_truth(base_url: str, token: str, timeout: float = 120.0) -> dict[str, Any]:
    """GET `/_sim/truth`."""
    answer = requests.get(
        f"{base_url.rstrip('/')}/_sim/truth",
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )
    answer.raise_for_status()
    truth: dict[str, Any] = answer.json()
    return truth


def custom_columns(fields: list[dict[str, Any]]) -> list[str]:
    """Live custom fields (type `field`, not deleted) that become contact columns."""
    found: list[str] = []
    for item in fields:
        name = item.get("name")
        live = item.get("type") == "field" and item.get("deleted") is not True
        if live and isinstance(name, str) and name not in CONTACT and name not in found:
            found.append(name)
    return found


def _subset(source: dict[str, Any], columns: list[str]) -> Row:
    return {name: source[name] for name in columns if name in source}


def _transaction_ids(contact: dict[str, Any]) -> list[list[str]]:
    """W14: md5($id+fired); later twins get "#sequence_nr", else "#n" (n = position)."""
    cid = str(contact["$id"])
    seen: dict[str, int] = {}
    out: list[list[str]] = []
    for entry in contact.get("$task_log") or []:
        ids: list[str] = []
        for tx in entry.get("transactions") or []:
            fired = str(tx.get("fired", ""))
            seen[fired] = seen.get(fired, 0) + 1
            if seen[fired] == 1:
                ids.append(md5_hex(cid + fired))
            elif tx.get("sequence_nr") is not None:
                ids.append(md5_hex(f"{cid}{fired}#{tx['sequence_nr']}"))
            else:
                ids.append(md5_hex(f"{cid}{fired}#{seen[fired]}"))
        out.append(ids)
    return out


def _connection(
    tables: Tables, conn: dict[str, Any], parent: str | None, ids: tuple[str, str]
) -> None:
    if "disconnected" not in conn or not isinstance(conn.get("id"), str):
        return
    row = _subset(conn, CONNECTION)
    row["contact_id"], row["transaction_id"] = ids
    row.setdefault("isThirdPartyConnection", False)
    if parent is not None:
        row["parent_connection_id"] = parent
    for third in conn.get("third_party_connections") or []:
        _connection(tables, third, conn["id"], ids)
    tables["connections"][conn["id"]] = row
    for rec in conn.get("recordings") or []:
        suffix = rec["location"] if "location" in rec else rec.get("started")
        rec_id = md5_hex(f"{conn['id']}{'' if suffix is None else suffix}")
        rec_row = _subset(rec, RECORDING)
        rec_row.update(id=rec_id, contact_id=ids[0], connection_id=conn["id"])
        tables["recordings"][rec_id] = rec_row


def expected_tables(truth: dict[str, Any]) -> Tables:
    """Table (without prefix) -> primary key -> expected row (no filters, no `$changed`)."""
    tables: Tables = {name: {} for name in TABLES}
    contact_columns = CONTACT + custom_columns(truth.get("fields") or [])
    for contact in truth.get("contacts") or []:
        cid = str(contact["$id"])
        tables["contacts"][cid] = _subset(contact, contact_columns)
        log = contact.get("$task_log") or []
        for entry, ids in zip(log, _transaction_ids(contact), strict=True):
            for tx, tx_id in zip(entry.get("transactions") or [], ids, strict=True):
                row = _subset(tx, TRANSACTION)
                row.update(id=tx_id, contact_id=cid)
                tables["transactions"][tx_id] = row
                previous: dict[str, Any] | None = None
                for conn in tx.get("connections") or []:
                    parent = None
                    if conn.get("technology") == "transfer" and previous is not None:
                        parent = previous.get("id")
                    _connection(tables, conn, parent, (cid, tx_id))
                    previous = conn
    for call in truth.get("inbound_calls") or []:
        renamed = {INBOUND_RENAMED.get(key, key): value for key, value in call.items()}
        tables["inbound_calls"][str(call["id"])] = _subset(renamed, INBOUND)
    return tables


def transaction_count(truth: dict[str, Any]) -> int:
    """How many transactions the truth holds."""
    return sum(
        len(entry.get("transactions") or [])
        for contact in truth.get("contacts") or []
        for entry in contact.get("$task_log") or []
    )
