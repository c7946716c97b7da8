"""Add keys the API contract does not know to a JSON answer (the `unknown_fields` malformed mode).

Real Dialfire may add attributes at any time; a client must carry or ignore them, never fail.
The keys are the same for every answer and their values depend only on the entity they sit in,
so a client sees stable content while the mode is on. They cover every JSON type (string, number,
boolean, null, object, array) at every level: contacts (a plain and a `$` key), task-log entries,
transactions, connections, recordings, inbound calls, list pages and field definitions.
"""

from __future__ import annotations

from typing import Any

PREFIX = "sim_unknown_"  # every added key starts with this (or with "$" + it)


def contact_extras(contact_id: str) -> dict[str, Any]:
    """Return the unknown top-level keys added to the contact `contact_id`."""
    return {
        f"${PREFIX}flag": True,
        f"{PREFIX}note": f"extra ✓ {contact_id}",
        f"{PREFIX}count": 42,
        f"{PREFIX}ratio": 0.25,
        f"{PREFIX}nothing": None,
        f"{PREFIX}object": {"level": 2, "tags": ["a", "b"], "deep": {"ok": True, "id": contact_id}},
        f"{PREFIX}list": [1, "two", None, 3.5, {"k": "v"}],
    }


TRANSACTION_EXTRAS: dict[str, Any] = {
    f"{PREFIX}tx_note": "extra transaction key",
    f"${PREFIX}tx_score": 0.5,
    f"{PREFIX}tx_object": {"a": [1, 2], "b": None},
}
CONNECTION_EXTRAS: dict[str, Any] = {f"{PREFIX}conn": ["x", 1, False]}
RECORDING_EXTRAS: dict[str, Any] = {f"{PREFIX}rec": {"codec": "opus"}}
ENTRY_EXTRAS: dict[str, Any] = {f"{PREFIX}entry": {"x": 1}}
ITEM_EXTRAS: dict[str, Any] = {f"{PREFIX}item": "extra", f"{PREFIX}item_n": 7}


def add_unknown_fields(endpoint: str, payload: Any) -> None:
    """Add unknown keys in place to a parsed answer of `endpoint` (E1..E5)."""
    if endpoint == "E3" and isinstance(payload, list):
        for contact in payload:
            if isinstance(contact, dict):
                _extend_contact(contact)
    elif endpoint == "E1" and isinstance(payload, list):
        for field in payload:
            if isinstance(field, dict):
                field.update(ITEM_EXTRAS)
    elif isinstance(payload, dict):
        payload[f"{PREFIX}page"] = {"served_by": "simulator", "extra": [1, 2]}
        for item in payload.get("results") or []:
            if isinstance(item, dict):  # E2 ids, E5 inbound calls (E4 items are strings)
                item.update(ITEM_EXTRAS)


def _extend_contact(contact: dict[str, Any]) -> None:
    contact.update(contact_extras(str(contact.get("$id", ""))))
    for entry in contact.get("$task_log") or []:
        if not isinstance(entry, dict):
            continue
        entry.update(ENTRY_EXTRAS)
        for transaction in entry.get("transactions") or []:
            if not isinstance(transaction, dict):
                continue
            transaction.update(TRANSACTION_EXTRAS)
            for connection in transaction.get("connections") or []:
                if not isinstance(connection, dict):
                    continue
                connection.update(CONNECTION_EXTRAS)
                for recording in connection.get("recordings") or []:
                    if isinstance(recording, dict):
                        recording.update(RECORDING_EXTRAS)
