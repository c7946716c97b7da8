"""Turn fetched contacts and inbound calls into events, deciding what is new or changed.

A contact yields a ContactSnapshot when its `$md5` differs from the state store, then one
TransactionEvent per transaction (in task-log order) that passes the filter and whose fingerprint
(`content_digest` of the transaction as delivered) is unknown (`new`) or different (`updated`).
The state changes are returned alongside the events; the caller commits them only after Kafka
confirmed the events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from producer.clock import Clock, to_micros, truncate_to_millis
from producer.filters import TransactionFilter
from producer.state import StateUpdate
from schemas.events import (
    CampaignId,
    ContactId,
    ContactSnapshot,
    Event,
    InboundCallEvent,
    TransactionEvent,
    TransactionState,
    split_transaction,
)
from schemas.ids import content_digest, derive_event_id, derive_transaction_ids

JsonDict = dict[str, Any]


class VersionAllocator:
    """Issues strictly increasing versions: max(now in µs, last issued + 1)."""

    def __init__(self, last_issued: int) -> None:
        """Start after `last_issued` (the last version the state store confirmed)."""
        self.last_issued = last_issued

    def allocate(self, now: datetime) -> int:
        """Return the next version."""
        self.last_issued = max(to_micros(now), self.last_issued + 1)
        return self.last_issued


@dataclass
class ContactChanges:
    """The events of one contact, in publishing order, and the state they advance."""

    events: list[Event] = field(default_factory=list)
    update: StateUpdate = field(default_factory=StateUpdate)


def text_of(value: Any) -> str:
    """Return a timestamp-ish value as text ('' when missing)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def iter_transactions(contact: Mapping[str, Any]) -> list[tuple[int, int, JsonDict]]:
    """Return (task-log index, transaction index, transaction) of a contact, in task-log order."""
    found: list[tuple[int, int, JsonDict]] = []
    for tl_idx, entry in enumerate(contact.get("$task_log") or []):
        if not isinstance(entry, dict):
            continue
        for ta_idx, transaction in enumerate(entry.get("transactions") or []):
            if isinstance(transaction, dict):
                found.append((tl_idx, ta_idx, transaction))
    return found


def transaction_ids_of(contact_id: str, transactions: list[tuple[int, int, JsonDict]]) -> list[str]:
    """Return the collision-free transaction ids of a contact's transactions (docs/contract.md)."""
    return derive_transaction_ids(
        contact_id, [(text_of(tx.get("fired")), tx.get("sequence_nr")) for _, _, tx in transactions]
    )


def fingerprint_of(entity: Mapping[str, Any]) -> str:
    """Return the change-detection fingerprint of a transaction or inbound call as delivered."""
    return content_digest([entity])


class EventBuilder:
    """Builds the events of one campaign from what Dialfire delivered and what the store knows."""

    def __init__(
        self,
        campaign_id: str,
        transaction_filter: TransactionFilter,
        versions: VersionAllocator,
        clock: Clock,
    ) -> None:
        """Events get versions from `versions` and observation times from `clock`."""
        self.campaign_id = CampaignId(campaign_id)
        self.filter = transaction_filter
        self.versions = versions
        self.clock = clock

    def build_contact(
        self,
        contact: Mapping[str, Any],
        stored_md5: str | None,
        stored_fingerprints: Mapping[str, str],
    ) -> ContactChanges:
        """Return the snapshot and transaction events of one contact (E3 shape)."""
        changes = ContactChanges()
        contact_id = ContactId(str(contact["$id"]))
        md5 = str(contact["$md5"])
        plain = {key: value for key, value in contact.items() if key != "$task_log"}
        transactions = iter_transactions(contact)
        ids = transaction_ids_of(contact_id, transactions)
        now = self.clock.now()
        observed_at = truncate_to_millis(now)
        if md5 != stored_md5:
            fired_values = [text_of(tx.get("fired")) for _, _, tx in transactions]
            latest = max((f for f in fired_values if f), default="")
            entry_date = contact.get("$entry_date")
            changes.events.append(
                ContactSnapshot(
                    event_id=derive_event_id(self.campaign_id, "contact", contact_id, md5),
                    campaign_id=self.campaign_id,
                    contact_id=contact_id,
                    version=self.versions.allocate(now),
                    observed_at=observed_at,
                    contact=plain,
                    md5=md5,
                    fired=latest or (entry_date if isinstance(entry_date, str) else None),
                )
            )
            changes.update.contact_md5s[contact_id] = md5
        for (tl_idx, ta_idx, raw), transaction_id in zip(transactions, ids, strict=True):
            if not self.filter.accepts(raw):
                continue
            fingerprint = fingerprint_of(raw)
            stored = stored_fingerprints.get(transaction_id)
            if stored == fingerprint:
                continue
            attributes, has_connections, connections = split_transaction(raw)
            changes.events.append(
                TransactionEvent(
                    event_id=derive_event_id(
                        self.campaign_id, "transaction", transaction_id, fingerprint
                    ),
                    campaign_id=self.campaign_id,
                    contact_id=contact_id,
                    version=self.versions.allocate(now),
                    observed_at=observed_at,
                    fired=text_of(raw.get("fired")),
                    transaction_id=transaction_id,
                    state=TransactionState.NEW if stored is None else TransactionState.UPDATED,
                    task_log_index=tl_idx,
                    transaction_index=ta_idx,
                    contact=plain,
                    transaction=attributes,
                    connections=connections,
                    has_connections=has_connections,
                )
            )
            changes.update.transaction_fingerprints[transaction_id] = fingerprint
        return changes

    def build_inbound_call(
        self, call: Mapping[str, Any], stored_fingerprint: str | None
    ) -> ContactChanges:
        """Return the InboundCallEvent of a new or changed inbound call (nothing if unchanged)."""
        changes = ContactChanges()
        call_id = text_of(call.get("id"))
        fingerprint = fingerprint_of(call)
        if fingerprint == stored_fingerprint:
            return changes
        now = self.clock.now()
        contact_id = call.get("contact_id")
        call_time = call.get("call_time")
        changes.events.append(
            InboundCallEvent(
                event_id=derive_event_id(self.campaign_id, "inbound_call", call_id, fingerprint),
                campaign_id=self.campaign_id,
                call_id=call_id,
                version=self.versions.allocate(now),
                observed_at=truncate_to_millis(now),
                call=dict(call),
                contact_id=ContactId(text_of(contact_id)) if contact_id else None,
                fired=call_time if isinstance(call_time, str) else None,
            )
        )
        changes.update.inbound_fingerprints[call_id] = fingerprint
        return changes
