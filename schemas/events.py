"""The typed event model every handler sees: contact snapshots, transactions and inbound calls.

Attribute maps keep everything Dialfire sent (original names, original order, nested objects as
plain Python values), so a field with no typed slot still reaches every consumer.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NewType, TypeAlias

CampaignId = NewType("CampaignId", str)
ContactId = NewType("ContactId", str)
EventId = NewType("EventId", str)

# A decoded JSON value: None, bool, int, float, str, list or dict of JSON values.
JsonValue: TypeAlias = Any
Attributes: TypeAlias = Mapping[str, JsonValue]

INBOUND_KEY_PREFIX = "inbound:"


class TransactionState(enum.StrEnum):
    """Whether the producer saw this transaction for the first time or saw it change."""

    NEW = "new"
    UPDATED = "updated"


@dataclass(frozen=True, slots=True)
class Recording:
    """A call recording of a connection."""

    attributes: Attributes

    def as_delivered(self) -> dict[str, JsonValue]:
        """Return the recording as Dialfire delivered it."""
        return dict(self.attributes)


@dataclass(frozen=True, slots=True)
class Connection:
    """A connection (call leg) of a transaction, with its recordings and third-party legs."""

    attributes: Attributes
    recordings: tuple[Recording, ...] = ()
    third_party_connections: tuple[Connection, ...] = ()
    has_recordings: bool = False
    has_third_party_connections: bool = False

    @classmethod
    def from_delivered(cls, raw: Mapping[str, JsonValue]) -> Connection:
        """Split a connection as Dialfire delivered it into attributes and nested arrays.

        Only list-valued `recordings` / `third_party_connections` are split out; anything else
        (a wrong type, say) stays an attribute, so nothing is lost.
        """
        attributes = dict(raw)
        recordings = attributes.pop("recordings", None)
        has_recordings = isinstance(recordings, list) and all(
            isinstance(r, dict) for r in recordings
        )
        if not has_recordings and "recordings" in raw:
            attributes["recordings"] = recordings
        third = attributes.pop("third_party_connections", None)
        has_third = isinstance(third, list) and all(isinstance(c, dict) for c in third)
        if not has_third and "third_party_connections" in raw:
            attributes["third_party_connections"] = third
        return cls(
            attributes=attributes,
            recordings=tuple(Recording(dict(r)) for r in recordings) if has_recordings else (),
            third_party_connections=(
                tuple(cls.from_delivered(c) for c in third) if has_third else ()
            ),
            has_recordings=has_recordings,
            has_third_party_connections=has_third,
        )

    def as_delivered(self) -> dict[str, JsonValue]:
        """Return the connection as Dialfire delivered it, nested arrays included."""
        out = dict(self.attributes)
        if self.has_third_party_connections:
            out["third_party_connections"] = [
                c.as_delivered() for c in self.third_party_connections
            ]
        if self.has_recordings:
            out["recordings"] = [r.as_delivered() for r in self.recordings]
        return out


@dataclass(frozen=True, slots=True)
class ContactSnapshot:
    """The whole contact (without $task_log), published whenever its $md5 changes."""

    event_id: EventId
    campaign_id: CampaignId
    contact_id: ContactId
    version: int
    observed_at: datetime
    contact: Attributes
    md5: str | None = None
    fired: str | None = None

    @property
    def key(self) -> str:
        """The Kafka message key."""
        return self.contact_id


@dataclass(frozen=True, slots=True)
class TransactionEvent:
    """One new or changed transaction, with its connections and the contact it belongs to."""

    event_id: EventId
    campaign_id: CampaignId
    contact_id: ContactId
    version: int
    observed_at: datetime
    fired: str
    transaction_id: str
    state: TransactionState
    task_log_index: int
    transaction_index: int
    contact: Attributes
    transaction: Attributes
    connections: tuple[Connection, ...] = ()
    has_connections: bool = False

    @property
    def key(self) -> str:
        """The Kafka message key."""
        return self.contact_id

    def transaction_as_delivered(self) -> dict[str, JsonValue]:
        """Return the transaction as Dialfire delivered it, connections and recordings included."""
        out = dict(self.transaction)
        if self.has_connections:
            out["connections"] = [c.as_delivered() for c in self.connections]
        return out

    def webhook_payload(self) -> dict[str, JsonValue]:
        """Return the body dbsync2 POSTs: {"contact", "transaction", "state"}."""
        return {
            "contact": dict(self.contact),
            "transaction": self.transaction_as_delivered(),
            "state": self.state.value,
        }


@dataclass(frozen=True, slots=True)
class InboundCallEvent:
    """One new or changed inbound call."""

    event_id: EventId
    campaign_id: CampaignId
    call_id: str
    version: int
    observed_at: datetime
    call: Attributes
    contact_id: ContactId | None = None
    fired: str | None = None

    @property
    def key(self) -> str:
        """The Kafka message key: the contact id, else a per-call key."""
        return self.contact_id or INBOUND_KEY_PREFIX + self.call_id


Event: TypeAlias = ContactSnapshot | TransactionEvent | InboundCallEvent


def split_transaction(
    raw: Mapping[str, JsonValue],
) -> tuple[dict[str, JsonValue], bool, tuple[Connection, ...]]:
    """Split a transaction as delivered into (attributes, has_connections, connections)."""
    attributes = dict(raw)
    connections = attributes.pop("connections", None)
    ok = isinstance(connections, list) and all(isinstance(c, dict) for c in connections)
    if not ok:
        if "connections" in raw:
            attributes["connections"] = connections
        return attributes, False, ()
    assert isinstance(connections, list)
    return attributes, True, tuple(Connection.from_delivered(c) for c in connections)


def message_key(event: Event) -> bytes:
    """Return the Kafka key of an event: UTF-8 contact id (per-contact order), see `key`."""
    return event.key.encode("utf-8")


def event_type_name(event: Event) -> str:
    """Return the short name of an event's type, as used in headers, metrics and logs."""
    if isinstance(event, ContactSnapshot):
        return "contact"
    if isinstance(event, TransactionEvent):
        return "transaction"
    return "inbound_call"
