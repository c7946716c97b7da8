"""Derive table rows from events: contacts, transactions, connections, recordings, inbound calls.

Follows behaviour doc §4.7. Every row carries the event's `version` (stale-write guard) and
`$changed` = the event's `observed_at` in RFC3339 UTC, so a rebuild from the topic gives the same
tables byte for byte. Connections without `disconnected` (calls in progress) or without a string
`id` are skipped; they arrive complete with a later `updated` transaction event.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from consumers.sql.tables import (
    CHANGED_COLUMN,
    CONNECTIONS,
    CONTACTS,
    INBOUND_CALLS,
    RECORDINGS,
    TRANSACTIONS,
    TableSpec,
)
from schemas import Connection, ContactSnapshot, Event, InboundCallEvent, TransactionEvent
from schemas.ids import derive_recording_id

INBOUND_RENAMES: Mapping[str, str] = {
    "calling_number": "remote_number",
    "called_number": "line_number",
    "call_time": "started",
    "connect_time": "connected",
    "hangup_time": "disconnected",
}
EXCLUDED_CONTACT_KEYS = frozenset({"$task_log"})


class Row(NamedTuple):
    """One row to upsert: its table, primary key, version and values by field name.

    Immutable; a named tuple because one is built per event (cheaper than a frozen dataclass).
    """

    table: TableSpec
    key: str
    version: int
    values: dict[str, Any]


@dataclass
class RowSet:
    """Rows of a batch per table, duplicate keys collapsed to the newest version."""

    rows: dict[str, dict[str, Row]] = field(default_factory=dict)
    skipped_connections: int = 0

    def add(self, row: Row) -> None:
        """Keep `row` unless a row with the same key and a higher version is already there."""
        table_rows = self.rows.setdefault(row.table.entity, {})
        current = table_rows.get(row.key)
        if current is None or row.version >= current.version:
            table_rows[row.key] = row

    def for_table(self, table: TableSpec) -> list[Row]:
        """Return the rows of one table, in first-seen order."""
        return list(self.rows.get(table.entity, {}).values())

    def count(self) -> int:
        """Return the number of rows over all tables."""
        return sum(len(rows) for rows in self.rows.values())


# Formatted `$changed` values by epoch second: events of a batch mostly share a few seconds,
# and strftime costs ten times the lookup. Cleared when full.
_CHANGED_TEXT: dict[int, str] = {}
CHANGED_CACHE_SIZE = 4096


def format_changed(observed_at: datetime) -> str:
    """Return `observed_at` as RFC3339 UTC with second precision, as dbsync2 wrote `$changed`."""
    moment = observed_at if observed_at.tzinfo else observed_at.replace(tzinfo=UTC)
    second = math.floor(moment.timestamp())
    text = _CHANGED_TEXT.get(second)
    if text is None:
        text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if len(_CHANGED_TEXT) >= CHANGED_CACHE_SIZE:
            _CHANGED_TEXT.clear()
        _CHANGED_TEXT[second] = text
    return text


def _fixed(spec: TableSpec, attributes: Mapping[str, Any]) -> dict[str, Any]:
    names = {name for name, _ in spec.columns}
    return {k: v for k, v in attributes.items() if k in names}


def derive_contact_row(event: ContactSnapshot) -> Row:
    """Return the contacts row: every attribute (custom fields included) but `$task_log`."""
    values = dict(event.contact)  # a C-level copy; then drop the few excluded keys
    for excluded in EXCLUDED_CONTACT_KEYS:
        values.pop(excluded, None)
    values["$id"] = event.contact_id
    if values.get("$md5") is None and event.md5 is not None:
        values["$md5"] = event.md5
    values[CHANGED_COLUMN] = format_changed(event.observed_at)
    return Row(CONTACTS, event.contact_id, event.version, values)


def derive_inbound_call_row(event: InboundCallEvent) -> Row:
    """Return the inbound_calls row, with dbsync2's field renames."""
    renamed = {INBOUND_RENAMES.get(k, k): v for k, v in event.call.items()}
    for original, target in INBOUND_RENAMES.items():
        if original in event.call:
            renamed[target] = event.call[original]
    values = _fixed(INBOUND_CALLS, renamed)
    values["id"] = event.call_id
    values[CHANGED_COLUMN] = format_changed(event.observed_at)
    return Row(INBOUND_CALLS, event.call_id, event.version, values)


def derive_transaction_rows(event: TransactionEvent) -> tuple[list[Row], int]:
    """Return the transaction row with its connection and recording rows, and skipped count."""
    changed = format_changed(event.observed_at)
    values = _fixed(TRANSACTIONS, event.transaction)
    values["id"] = event.transaction_id
    values["contact_id"] = event.contact_id
    values[CHANGED_COLUMN] = changed
    rows = [Row(TRANSACTIONS, event.transaction_id, event.version, values)]
    skipped = 0
    previous_id: Any = None
    for connection in event.connections:
        parent = None
        if connection.attributes.get("technology") == "transfer" and previous_id is not None:
            parent = previous_id
        derived, missed = _derive_connection(event, connection, parent, changed)
        rows.extend(derived)
        skipped += missed
        previous_id = connection.attributes.get("id")
    return rows, skipped


def _derive_connection(
    event: TransactionEvent, connection: Connection, parent: Any, changed: str
) -> tuple[list[Row], int]:
    attrs = connection.attributes
    conn_id = attrs.get("id")
    if attrs.get("disconnected") is None or not isinstance(conn_id, str):
        return [], 1
    rows: list[Row] = []
    skipped = 0
    for third in connection.third_party_connections:
        derived, missed = _derive_connection(event, third, conn_id, changed)
        rows.extend(derived)
        skipped += missed
    values = _fixed(CONNECTIONS, attrs)
    values.setdefault("isThirdPartyConnection", False)
    values["contact_id"] = event.contact_id
    values["transaction_id"] = event.transaction_id
    if parent is not None:
        values["parent_connection_id"] = parent
    values[CHANGED_COLUMN] = changed
    rows.append(Row(CONNECTIONS, conn_id, event.version, values))
    for recording in connection.recordings:
        rec = recording.attributes
        location, started = rec.get("location"), rec.get("started")
        rec_id = derive_recording_id(
            conn_id,
            location if isinstance(location, str) else None,
            started if isinstance(started, str) else None,
        )
        rec_values = _fixed(RECORDINGS, rec)
        rec_values.update(
            id=rec_id,
            contact_id=event.contact_id,
            connection_id=conn_id,
            **{CHANGED_COLUMN: changed},
        )
        rows.append(Row(RECORDINGS, rec_id, event.version, rec_values))
    return rows, skipped


def derive_rows(event: Event) -> tuple[list[Row], int]:
    """Return every row one event writes, and how many connections it had to skip."""
    if isinstance(event, ContactSnapshot):
        return [derive_contact_row(event)], 0
    if isinstance(event, TransactionEvent):
        return derive_transaction_rows(event)
    return [derive_inbound_call_row(event)], 0


def collect_rows(events: Iterable[Event]) -> RowSet:
    """Return the collapsed rows of many events, in order (newest version wins per key)."""
    row_set = RowSet()
    for event in events:
        rows, skipped = derive_rows(event)
        row_set.skipped_connections += skipped
        for row in rows:
            row_set.add(row)
    return row_set
