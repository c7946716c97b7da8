"""Hold one campaign's thread-safe state: fields, contacts, transaction events and inbound calls."""

from __future__ import annotations

import hashlib
import json
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from simulator.catalog import build_fields
from simulator.clock import format_ts, now_ms, parse_ts
from simulator.generator import DataGenerator, JsonDict
from simulator.history import build_contact_history

HISTORY_SPAN_MS = 90 * 86_400_000


def compute_contact_md5(contact: JsonDict) -> str:
    """Return the md5 hex of the contact's canonical JSON (sorted keys, no ``$md5``)."""
    body = {key: value for key, value in contact.items() if key != "$md5"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.md5(canonical.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class TransactionEvent:
    """One E4 event: a transaction was created or updated at ``at_ms``."""

    at_ms: int
    contact_id: str
    tl_idx: int
    ta_idx: int
    md5: str


class Campaign:
    """The simulated campaign; every read or write of its state happens under ``lock``."""

    def __init__(
        self, campaign_id: str, fields: list[JsonDict], seed: int = 0, hostile: bool = False
    ) -> None:
        self.lock = threading.RLock()
        self.campaign_id = campaign_id
        self.seed = seed
        self.hostile = hostile
        self.fields = fields
        self.contacts: dict[str, JsonDict] = {}
        self.contact_order: list[str] = []
        self.events: list[TransactionEvent] = []
        self.event_ms: list[int] = []
        self.inbound_calls: list[JsonDict] = []
        self.inbound_ms: list[int] = []
        self.open_connections: list[tuple[str, int, int]] = []

    @classmethod
    def generate(
        cls,
        seed: int,
        contacts: int = 200,
        inbound_calls: int = 50,
        hostile: bool = False,
        campaign_id: str = "DEMO",
        history_end: datetime | None = None,
    ) -> Campaign:
        """Build a deterministic campaign whose history spans the 90 days before ``history_end``.

        ``history_end`` defaults to today's UTC midnight, so two calls on one day agree exactly.
        """
        if history_end is None:
            today = datetime.now(UTC).date()
            history_end = datetime(today.year, today.month, today.day, tzinfo=UTC)
        end_ms = int(history_end.timestamp() * 1000)
        start_ms = end_ms - HISTORY_SPAN_MS
        campaign = cls(campaign_id, build_fields(hostile), seed=seed, hostile=hostile)
        gen = DataGenerator(random.Random(seed), campaign_id, hostile)
        pending: list[tuple[int, str, int, int]] = []
        for index in range(contacts):
            created_ms = start_ms + gen.rng.randrange(HISTORY_SPAN_MS - 86_400_000)
            duplicate = {0: "seq", 1: "noseq"}.get(index, "")
            history = build_contact_history(gen, index, created_ms, end_ms, duplicate)
            contact_id = campaign.add_contact(history.contact)
            pending.extend((at, contact_id, tl, ta) for at, tl, ta in history.changes)
            campaign.open_connections.extend(
                (contact_id, tl, ta) for tl, ta in history.open_connections
            )
        pending.sort()
        for at, contact_id, tl_idx, ta_idx in pending:
            md5 = campaign.contacts[contact_id]["$md5"]
            campaign.events.append(TransactionEvent(at, contact_id, tl_idx, ta_idx, md5))
            campaign.event_ms.append(at)
        calls = [
            gen.make_inbound_call(
                start_ms + gen.rng.randrange(HISTORY_SPAN_MS), campaign.contact_order
            )
            for _ in range(inbound_calls)
        ]
        for call in sorted(calls, key=lambda item: str(item["call_time"])):
            campaign.add_inbound_call(call)
        return campaign

    def add_contact(self, contact: JsonDict) -> str:
        """Store a new contact (its md5 is computed here) and return its ``$id``."""
        with self.lock:
            contact["$md5"] = compute_contact_md5(contact)
            contact_id = str(contact["$id"])
            self.contacts[contact_id] = contact
            self.contact_order.append(contact_id)
            return contact_id

    def next_change_ms(self) -> int:
        """Return the time for a live change: now, but never before the newest recorded event."""
        with self.lock:
            latest = max(
                self.event_ms[-1] if self.event_ms else 0,
                self.inbound_ms[-1] if self.inbound_ms else 0,
            )
            return max(now_ms(), latest)

    def record_change(self, contact_id: str, at_ms: int, tl_idx: int, ta_idx: int) -> None:
        """Note that a transaction changed: bump version, entry date and md5; emit an E4 event."""
        with self.lock:
            contact = self.contacts[contact_id]
            contact["$version"] = int(contact.get("$version", 0)) + 1
            contact["$entry_date"] = format_ts(at_ms)
            contact["$md5"] = compute_contact_md5(contact)
            self.events.append(TransactionEvent(at_ms, contact_id, tl_idx, ta_idx, contact["$md5"]))
            self.event_ms.append(at_ms)

    def add_inbound_call(self, call: JsonDict) -> None:
        """Append an inbound call (calls must arrive in ``call_time`` order)."""
        with self.lock:
            self.inbound_calls.append(call)
            self.inbound_ms.append(parse_ts(str(call["call_time"])))

    def transaction_at(self, event: TransactionEvent) -> JsonDict:
        """Return the current transaction an event points to."""
        task_log: list[JsonDict] = self.contacts[event.contact_id]["$task_log"]
        transaction: JsonDict = task_log[event.tl_idx]["transactions"][event.ta_idx]
        return transaction

    def build_truth(self) -> dict[str, Any]:
        """Return the full current state as served by ``GET /_sim/truth`` (shares live objects)."""
        with self.lock:
            return {
                "campaign_id": self.campaign_id,
                "fields": self.fields,
                "contacts": [self.contacts[cid] for cid in self.contact_order],
                "inbound_calls": self.inbound_calls,
                "generated_at": format_ts(now_ms()),
            }
