"""Id derivations compatible with existing dbsync2 databases, and deterministic event ids.

Rules (see docs/contract.md):
- transaction id = md5_hex(contact $id + fired), as dbsync2 v1.15 wrote it. When one contact has
  several transactions with the same fired (W14), the first in task-log order keeps that id and
  each later one gets md5_hex(contact $id + fired + "#" + sequence_nr), or "#" + its ordinal
  (2, 3, ...) among the duplicates when it has no sequence_nr.
- recording id = md5_hex(connection id + location), or + started when location is missing.
- connection and inbound call ids come from Dialfire.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from schemas.events import EventId


def md5_hex(text: str) -> str:
    """Return the lowercase hex md5 of a string's UTF-8 bytes."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def canonical_json(value: Any) -> str:
    """Return compact JSON with sorted keys: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def derive_event_id(*parts: str) -> EventId:
    """Return a deterministic event id (32 hex chars) from its identifying parts."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return EventId(digest[:32])


def _sequence_suffix(sequence_nr: Any, ordinal: int) -> str:
    if sequence_nr is None or isinstance(sequence_nr, bool):
        return "#" + str(ordinal)
    return "#" + str(sequence_nr)


def derive_transaction_id(
    contact_id: str, fired: str, sequence_nr: Any = None, duplicate_ordinal: int = 1
) -> str:
    """Return the transaction id; `duplicate_ordinal` > 1 marks a later same-fired transaction."""
    if duplicate_ordinal <= 1:
        return md5_hex(contact_id + fired)
    return md5_hex(contact_id + fired + _sequence_suffix(sequence_nr, duplicate_ordinal))


def derive_transaction_ids(contact_id: str, transactions: Iterable[tuple[str, Any]]) -> list[str]:
    """Return ids for a contact's (fired, sequence_nr) pairs in task-log order, collision-free."""
    seen: dict[str, int] = {}
    ids: list[str] = []
    for fired, sequence_nr in transactions:
        seen[fired] = seen.get(fired, 0) + 1
        ids.append(derive_transaction_id(contact_id, fired, sequence_nr, seen[fired]))
    return ids


def derive_recording_id(connection_id: str, location: str | None, started: str | None) -> str:
    """Return the recording id: md5(connection id + location), else md5(connection id + started)."""
    if location is not None and location != "":
        return md5_hex(connection_id + location)
    return md5_hex(connection_id + (started or ""))


def content_digest(parts: Sequence[Any]) -> str:
    """Return an md5 of the canonical JSON of some content, for change detection."""
    return md5_hex(canonical_json(list(parts)))
