"""Build realistic event streams (and the ground truth they should produce) for SQL tests."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas import (
    CampaignId,
    ContactId,
    ContactSnapshot,
    Event,
    InboundCallEvent,
    TransactionEvent,
    TransactionState,
)
from schemas.events import split_transaction
from schemas.ids import derive_event_id, derive_transaction_ids, md5_hex
from simulator.catalog import TASKS, build_fields
from simulator.generator import DataGenerator

BASE_VERSION = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds
BASE_MS = 1_767_225_600_000


def observed(version: int) -> datetime:
    """Return the observation time that corresponds to a version (microseconds)."""
    return datetime.fromtimestamp(version / 1_000_000, tz=UTC)


@dataclass
class Scenario:
    """Events in publish order plus the final Dialfire state (truth) they describe."""

    campaign: str
    events: list[Event] = field(default_factory=list)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    inbound_calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    hostile: bool = True

    def truth(self) -> dict[str, Any]:
        """Return the simulator-style ground truth for ops.truth.oracle."""
        return {
            "fields": build_fields(self.hostile),
            "contacts": list(self.contacts.values()),
            "inbound_calls": list(self.inbound_calls.values()),
        }


class EventFactory:
    """Makes contact snapshots, transaction events and inbound calls with rising versions."""

    def __init__(self, campaign: str, seed: int = 7, hostile: bool = True) -> None:
        self.campaign = campaign
        self.rng = random.Random(seed)
        self.gen = DataGenerator(self.rng, campaign, hostile)
        self.version = BASE_VERSION
        self.scenario = Scenario(campaign, hostile=hostile)

    def next_version(self) -> int:
        """Return the next strictly greater version."""
        self.version += 1_000_000 + self.rng.randrange(1000)
        return self.version

    def snapshot(self, contact: dict[str, Any]) -> ContactSnapshot:
        """Record and return a snapshot of `contact` (its $task_log is left out)."""
        version = self.next_version()
        attrs = {k: v for k, v in contact.items() if k != "$task_log"}
        md5 = md5_hex(repr(sorted((k, repr(v)) for k, v in attrs.items())))
        contact["$md5"] = md5
        attrs["$md5"] = md5
        event = ContactSnapshot(
            event_id=derive_event_id(self.campaign, "contact", contact["$id"], md5),
            campaign_id=CampaignId(self.campaign),
            contact_id=ContactId(contact["$id"]),
            version=version,
            observed_at=observed(version),
            contact=attrs,
            md5=md5,
        )
        self.scenario.contacts[contact["$id"]] = contact
        self.scenario.events.append(event)
        return event

    def transaction_event(
        self, contact: dict[str, Any], entry: int, index: int, state: TransactionState
    ) -> TransactionEvent:
        """Record and return the event of `contact['$task_log'][entry].transactions[index]`."""
        version = self.next_version()
        log = contact["$task_log"]
        pairs = [(t["fired"], t.get("sequence_nr")) for e in log for t in e["transactions"]]
        ids = derive_transaction_ids(contact["$id"], pairs)
        flat = sum(len(e["transactions"]) for e in log[:entry]) + index
        raw = log[entry]["transactions"][index]
        attrs, has_connections, connections = split_transaction(raw)
        event = TransactionEvent(
            event_id=derive_event_id(self.campaign, "tx", ids[flat], str(version)),
            campaign_id=CampaignId(self.campaign),
            contact_id=ContactId(contact["$id"]),
            version=version,
            observed_at=observed(version),
            fired=raw["fired"],
            transaction_id=ids[flat],
            state=state,
            task_log_index=entry,
            transaction_index=index,
            contact={k: v for k, v in contact.items() if k != "$task_log"},
            transaction=attrs,
            connections=connections,
            has_connections=has_connections,
        )
        self.scenario.events.append(event)
        return event

    def inbound(self, contact_ids: list[str]) -> InboundCallEvent:
        """Record and return an inbound call event."""
        version = self.next_version()
        call = self.gen.make_inbound_call(BASE_MS + self.rng.randrange(10**9), contact_ids)
        contact_id = call.get("contact_id")
        event = InboundCallEvent(
            event_id=derive_event_id(self.campaign, "inbound", str(call["id"]), str(version)),
            campaign_id=CampaignId(self.campaign),
            call_id=str(call["id"]),
            version=version,
            observed_at=observed(version),
            call=call,
            contact_id=ContactId(contact_id) if isinstance(contact_id, str) else None,
        )
        self.scenario.inbound_calls[str(call["id"])] = call
        self.scenario.events.append(event)
        return event

    def contact_history(self, index: int, transactions: int = 2) -> None:
        """Create one contact with a few transactions, an update and a finished call."""
        created = BASE_MS + index * 60_000
        contact = self.gen.make_contact(index, created)
        contact["$task_log"] = []
        self.snapshot(contact)
        task = self.rng.choice(TASKS)
        entry = self.gen.make_task_entry(task, created + 1000)
        contact["$task_log"].append(entry)
        for n in range(transactions):
            fired = created + 10_000 * (n + 1)
            tx = self.gen.make_transaction(task, fired, n + 1, "update", contact["$phone"])
            entry["transactions"].append(tx)
            self.transaction_event(contact, 0, n, TransactionState.NEW)
            unfinished = [c for c in tx.get("connections", []) if "disconnected" not in c]
            if unfinished:
                for conn in unfinished:
                    self.gen.finish_connection(conn, fired + 120_000)
                self.transaction_event(contact, 0, n, TransactionState.UPDATED)
        contact["$status"] = self.rng.choice(("success", "declined", "open"))
        contact["$version"] = 2
        self.snapshot(contact)


def build_scenario(campaign: str, contacts: int, seed: int = 7, hostile: bool = True) -> Scenario:
    """Return a scenario of `contacts` contact histories and some inbound calls."""
    factory = EventFactory(campaign, seed=seed, hostile=hostile)
    for index in range(contacts):
        factory.contact_history(index, transactions=1 + index % 3)
        if index % 4 == 0:
            factory.inbound(list(factory.scenario.contacts))
    return factory.scenario
