"""Derive the rows dbsync2 tables must hold from the simulator's ground truth (`/_sim/truth`).

Written from the behaviour spec (§4.3 columns, §4.5 custom fields, §4.7 entity derivation and its
`--fm`/`--fp` filters, W14 transaction ids) and independently of the producer and the consumers,
so the chaos harness and the tests can compare whole tables against it. It lives in ops/ because
ops/ must never import tests/; the tests import it from here.
"""

from __future__ import annotations

import hashlib
from typing import Any

import requests

Row = dict[str, Any]
Tables = dict[str, dict[str, Row]]
TABLES: tuple[str, ...] = ("contacts", "transactions", "connections", "recordings", "inbound_calls")

CONTACT_COLUMNS: tuple[str, ...] = (
    "$id", "$md5", "$ref", "$version", "$campaign_id", "$task_id", "$task", "$status",
    "$status_detail", "$created_date", "$entry_date", "$owner", "$follow_up_date", "$phone",
    "$timezone", "$caller_id", "$source", "$comment", "$error", "$recording", "$recording_url",
)  # fmt: skip
TRANSACTION_COLUMNS: tuple[str, ...] = (
    "id", "contact_id", "task_id", "task", "status", "status_detail", "fired", "pause_time_sec",
    "edit_time_sec", "wrapup_time_sec", "user", "user_loginName", "user_branch",
    "user_tenantAlias", "actor", "type", "result", "trigger", "isHI", "revoked",
)  # fmt: skip
CONNECTION_COLUMNS: tuple[str, ...] = (
    "id", "parent_connection_id", "transfer_target_address", "call_uuid", "global_call_uuid",
    "transaction_id", "task_id", "contact_id", "phone", "user", "actor", "hangup_party",
    "isThirdPartyConnection", "dialerdomain", "fired", "started", "initiated", "connected",
    "disconnected", "ended", "duration", "remote_number", "line_number", "technology", "result",
    "code", "call_initiated", "call_connected", "call_disconnected",
)  # fmt: skip
RECORDING_COLUMNS: tuple[str, ...] = (
    "id", "contact_id", "connection_id", "started", "stopped", "filename", "location",
)  # fmt: skip
INBOUND_COLUMNS: tuple[str, ...] = (
    "id", "line_id", "campaign_id", "task_id", "task_name", "contact_id", "remote_number",
    "line_number", "started", "connected", "disconnected", "user", "state", "connectable_time",
    "disposition", "dispatch_error",
)  # fmt: skip
INBOUND_RENAMES: dict[str, str] = {
    "calling_number": "remote_number",
    "called_number": "line_number",
    "call_time": "started",
    "connect_time": "connected",
    "hangup_time": "disconnected",
}


def md5_hex(text: str) -> str:
    """Lowercase md5 hex of the UTF-8 text (as dbsync2 derives ids)."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def fetch_truth(base_url: str, token: str, timeout: float = 120.0) -> dict[str, Any]:
    """GET `/_sim/truth` from a running simulator."""
    response = requests.get(
        f"{base_url.rstrip('/')}/_sim/truth",
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )
    response.raise_for_status()
    truth: dict[str, Any] = response.json()
    return truth


def custom_field_names(fields: list[dict[str, Any]]) -> list[str]:
    """Names of live custom fields (type `field`, not deleted) that become contact columns."""
    names: list[str] = []
    for element in fields:
        if element.get("type") != "field" or element.get("deleted") is True:
            continue
        name = element.get("name")
        if isinstance(name, str) and name not in CONTACT_COLUMNS and name not in names:
            names.append(name)
    return names


def _pick(source: dict[str, Any], columns: tuple[str, ...] | list[str]) -> Row:
    return {column: source[column] for column in columns if column in source}


def transaction_ids(contact: dict[str, Any]) -> list[list[str]]:
    """Ids of every transaction, indexed like `$task_log[i].transactions[j]` (W14).

    The first transaction with a given `fired` keeps md5($id + fired); each later one with the
    same `fired` gets md5($id + fired + "#" + sequence_nr), or "#" + its ordinal (2, 3, ...)
    among the duplicates when it has no sequence_nr.
    """
    contact_id = str(contact["$id"])
    seen: dict[str, int] = {}
    ids: list[list[str]] = []
    for entry in contact.get("$task_log") or []:
        entry_ids: list[str] = []
        for transaction in entry.get("transactions") or []:
            fired = str(transaction.get("fired", ""))
            seen[fired] = seen.get(fired, 0) + 1
            if seen[fired] == 1:
                entry_ids.append(md5_hex(contact_id + fired))
            elif transaction.get("sequence_nr") is not None:
                entry_ids.append(md5_hex(f"{contact_id}{fired}#{transaction['sequence_nr']}"))
            else:
                entry_ids.append(md5_hex(f"{contact_id}{fired}#{seen[fired]}"))
        ids.append(entry_ids)
    return ids


def transaction_selected(transaction: dict[str, Any], fm: str, fp: str) -> bool:
    """Client-side filter of §4.7 step 2 for `--fm` and `--fp`."""
    wants_update = fm in ("updates_only", "hi_updates_only")
    if wants_update and "type" in transaction and transaction["type"] != "update":
        return False
    assigned = transaction.get("status_detail") == "$assigned"
    if fm == "hi_updates_only" and ("user" not in transaction or assigned):
        return False
    prefixes = [prefix for prefix in fp.split(",") if prefix]
    task = transaction.get("task")
    return not (prefixes and task is not None and not str(task).startswith(tuple(prefixes)))


def _add_connection(
    tables: Tables, tp: str, conn: dict[str, Any], parent_id: str | None, ids: tuple[str, str]
) -> None:
    """Insert one connection (then its third-party connections and recordings) per §4.7 step 5."""
    if "disconnected" not in conn or not isinstance(conn.get("id"), str):
        return
    row = _pick(conn, CONNECTION_COLUMNS)
    row["contact_id"], row["transaction_id"] = ids
    row.setdefault("isThirdPartyConnection", False)
    if parent_id is not None:
        row["parent_connection_id"] = parent_id
    for third in conn.get("third_party_connections") or []:
        _add_connection(tables, tp, third, conn["id"], ids)
    tables[f"{tp}connections"][conn["id"]] = row
    for recording in conn.get("recordings") or []:
        suffix = recording["location"] if "location" in recording else recording.get("started")
        rec_id = md5_hex(f"{conn['id']}{suffix if suffix is not None else ''}")
        rec = _pick(recording, RECORDING_COLUMNS)
        rec.update(id=rec_id, contact_id=ids[0], connection_id=conn["id"])
        tables[f"{tp}recordings"][rec_id] = rec


def expected_rows(truth: dict[str, Any], tp: str = "", fm: str = "", fp: str = "") -> Tables:
    """Map table name (`tp` + name) -> primary key -> row of dbsync2 columns (no `$changed`)."""
    tables: Tables = {f"{tp}{name}": {} for name in TABLES}
    custom = custom_field_names(truth.get("fields") or [])
    for contact in truth.get("contacts") or []:
        contact_id = str(contact["$id"])
        tables[f"{tp}contacts"][contact_id] = _pick(contact, list(CONTACT_COLUMNS) + custom)
        all_ids = transaction_ids(contact)
        for entry, entry_ids in zip(contact.get("$task_log") or [], all_ids, strict=True):
            for transaction, tx_id in zip(entry.get("transactions") or [], entry_ids, strict=True):
                if not transaction_selected(transaction, fm, fp):
                    continue
                row = _pick(transaction, TRANSACTION_COLUMNS)
                row.update(id=tx_id, contact_id=contact_id)
                tables[f"{tp}transactions"][tx_id] = row
                previous: dict[str, Any] | None = None
                for conn in transaction.get("connections") or []:
                    parent = None
                    if conn.get("technology") == "transfer" and previous is not None:
                        parent = previous.get("id")
                    _add_connection(tables, tp, conn, parent, (contact_id, tx_id))
                    previous = conn
    for call in truth.get("inbound_calls") or []:
        renamed = {INBOUND_RENAMES.get(key, key): value for key, value in call.items()}
        tables[f"{tp}inbound_calls"][str(call["id"])] = _pick(renamed, INBOUND_COLUMNS)
    return tables


def transaction_count(truth: dict[str, Any]) -> int:
    """How many transactions the truth holds (before any filter)."""
    return sum(
        len(entry.get("transactions") or [])
        for contact in truth.get("contacts") or []
        for entry in contact.get("$task_log") or []
    )
