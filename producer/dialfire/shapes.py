"""Check Dialfire answers against the shapes each endpoint promises, as typed values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from producer.dialfire.errors import DialfireResponseError

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a cursor-paged list; an empty cursor means it was the last page."""

    results: list[Any]
    cursor: str


@dataclass(frozen=True, slots=True)
class ContactMd5:
    """One E2 row: a contact id and the md5 of its current content."""

    contact_id: str
    md5: str


@dataclass(frozen=True, slots=True)
class TransactionEventRef:
    """One parsed E4 event string `fired|md5|contactId|tlIdx,taIdx`."""

    fired: str
    md5: str
    contact_id: str


def check_page(body: Any, what: str) -> Page:
    """Return the page inside an E2/E4/E5 answer or raise DialfireResponseError."""
    if not isinstance(body, dict):
        raise DialfireResponseError(f"{what}: expected a JSON object, got {type(body).__name__}")
    results = body.get("results")
    if results is None:
        results = []
    if not isinstance(results, list):
        raise DialfireResponseError(f"{what}: 'results' is {type(results).__name__}, not a list")
    cursor = body.get("cursor") or ""
    if not isinstance(cursor, str):
        raise DialfireResponseError(f"{what}: 'cursor' is {type(cursor).__name__}, not a string")
    return Page(results, cursor)


def check_contact_md5s(results: list[Any]) -> list[ContactMd5]:
    """Return the E2 rows or raise DialfireResponseError on a row without string id/md5."""
    rows: list[ContactMd5] = []
    for item in results:
        if not isinstance(item, dict):
            raise DialfireResponseError(f"contact list: row is {type(item).__name__}")
        contact_id, md5 = item.get("id"), item.get("md5")
        if not isinstance(contact_id, str) or not contact_id:
            raise DialfireResponseError("contact list: row without a string 'id'")
        if md5 is not None and not isinstance(md5, str):
            raise DialfireResponseError(f"contact list: 'md5' of {contact_id} is not a string")
        rows.append(ContactMd5(contact_id, md5 or ""))
    return rows


def parse_event_refs(results: list[Any]) -> tuple[list[TransactionEventRef], int]:
    """Return the parsed E4 event strings and how many were skipped as malformed (as the original,
    which warns and skips strings with fewer than three `|`-separated parts)."""
    refs: list[TransactionEventRef] = []
    skipped = 0
    for item in results:
        if not isinstance(item, str):
            raise DialfireResponseError(f"transaction events: item is {type(item).__name__}")
        parts = item.split("|")
        if len(parts) < 3 or not parts[2]:
            skipped += 1
            continue
        refs.append(TransactionEventRef(parts[0], parts[1], parts[2]))
    return refs, skipped


def check_contacts(body: Any, requested: list[str]) -> list[JsonDict]:
    """Return the E3 contacts, each with a string `$id`, a `$md5` and a list `$task_log`."""
    if not isinstance(body, list):
        raise DialfireResponseError(f"contacts: expected a JSON array, got {type(body).__name__}")
    wanted = set(requested)
    contacts: list[JsonDict] = []
    for item in body:
        if not isinstance(item, dict):
            raise DialfireResponseError(f"contacts: item is {type(item).__name__}")
        contact_id = item.get("$id")
        if not isinstance(contact_id, str) or contact_id not in wanted:
            raise DialfireResponseError(f"contacts: unexpected or missing $id {contact_id!r}")
        if not isinstance(item.get("$md5"), str):
            raise DialfireResponseError(f"contacts: {contact_id} has no string $md5")
        task_log = item.get("$task_log")
        if not isinstance(task_log, list):
            raise DialfireResponseError(f"contacts: {contact_id} has no $task_log list")
        for entry in task_log:
            transactions = entry.get("transactions", []) if isinstance(entry, dict) else None
            if not isinstance(transactions, list) or not all(
                isinstance(t, dict) and isinstance(t.get("fired"), str) for t in transactions
            ):
                # `fired` makes the transaction id: a wrong type would mint a bogus transaction.
                raise DialfireResponseError(f"contacts: {contact_id} has a malformed $task_log")
        contacts.append(item)
    return contacts


def check_inbound_calls(results: list[Any]) -> list[JsonDict]:
    """Return the E5 calls, each an object with an `id`."""
    calls: list[JsonDict] = []
    for item in results:
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise DialfireResponseError("inbound calls: item is not an object with an 'id'")
        if not isinstance(item.get("call_time", ""), str | None):
            raise DialfireResponseError(
                f"inbound calls: call {item['id']} has a non-text call_time"
            )
        calls.append(item)
    return calls


def check_fields(body: Any) -> list[JsonDict]:
    """Return the E1 field list (an array of objects)."""
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise DialfireResponseError("field list: expected a JSON array of objects")
    return list(body)
