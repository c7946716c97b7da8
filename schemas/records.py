"""Convert between typed events and Avro records (dicts). Used only by the codec, at the edge.

Attribute values map onto the Avro union [null, boolean, long, double, string, JsonText]:
objects, arrays and integers outside 64 bits travel as JsonText, so nothing is lost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from schemas.events import (
    Attributes,
    CampaignId,
    Connection,
    ContactId,
    ContactSnapshot,
    Event,
    EventId,
    InboundCallEvent,
    JsonValue,
    Recording,
    TransactionEvent,
    TransactionState,
)

_LONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1
JSON_TEXT = "com.dialfire.dbsync2.JsonText"


def encode_value(value: JsonValue) -> Any:
    """Return the Avro union value for one JSON value."""
    # Exact type checks: this runs for every attribute of every event (the producer's hot path).
    kind = type(value)
    if kind is str or value is None or kind is bool or kind is float:
        return value
    if kind is int and _LONG_MIN <= value <= _LONG_MAX:
        return value
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (JSON_TEXT, {"json": text})


def decode_value(value: Any) -> JsonValue:
    """Return the JSON value for one Avro union value."""
    if isinstance(value, dict) and set(value) == {"json"}:
        return json.loads(value["json"])
    return value


def encode_attributes(attributes: Attributes) -> dict[str, Any]:
    """Return the Avro map for an attribute mapping."""
    return {str(k): encode_value(v) for k, v in attributes.items()}


def decode_attributes(record: Mapping[str, Any]) -> dict[str, JsonValue]:
    """Return the attribute mapping for an Avro map."""
    return {k: decode_value(v) for k, v in record.items()}


def _recording_to_record(recording: Recording) -> dict[str, Any]:
    return {"attributes": encode_attributes(recording.attributes)}


def _connection_to_record(connection: Connection) -> dict[str, Any]:
    return {
        "attributes": encode_attributes(connection.attributes),
        "has_recordings": connection.has_recordings,
        "recordings": [_recording_to_record(r) for r in connection.recordings],
        "has_third_party_connections": connection.has_third_party_connections,
        "third_party_connections": [
            _connection_to_record(c) for c in connection.third_party_connections
        ],
    }


def _connection_from_record(record: Mapping[str, Any]) -> Connection:
    return Connection(
        attributes=decode_attributes(record["attributes"]),
        recordings=tuple(
            Recording(decode_attributes(r["attributes"])) for r in record["recordings"]
        ),
        third_party_connections=tuple(
            _connection_from_record(c) for c in record["third_party_connections"]
        ),
        has_recordings=record["has_recordings"],
        has_third_party_connections=record["has_third_party_connections"],
    )


def to_record(event: Event) -> dict[str, Any]:
    """Return the Avro record (dict) for a typed event."""
    common: dict[str, Any] = {
        "event_id": event.event_id,
        "campaign_id": event.campaign_id,
        "contact_id": event.contact_id,
        "fired": event.fired,
        "version": event.version,
        "observed_at": event.observed_at,
    }
    if isinstance(event, ContactSnapshot):
        return common | {"md5": event.md5, "contact": encode_attributes(event.contact)}
    if isinstance(event, TransactionEvent):
        return common | {
            "transaction_id": event.transaction_id,
            "state": event.state.value,
            "task_log_index": event.task_log_index,
            "transaction_index": event.transaction_index,
            "contact": encode_attributes(event.contact),
            "transaction": encode_attributes(event.transaction),
            "has_connections": event.has_connections,
            "connections": [_connection_to_record(c) for c in event.connections],
        }
    return common | {"call_id": event.call_id, "call": encode_attributes(event.call)}


def contact_snapshot_from_record(r: Mapping[str, Any]) -> ContactSnapshot:
    """Return the typed contact snapshot for its Avro record."""
    return ContactSnapshot(
        event_id=EventId(r["event_id"]),
        campaign_id=CampaignId(r["campaign_id"]),
        contact_id=ContactId(r["contact_id"]),
        version=r["version"],
        observed_at=r["observed_at"],
        contact=decode_attributes(r["contact"]),
        md5=r["md5"],
        fired=r["fired"],
    )


def transaction_event_from_record(r: Mapping[str, Any]) -> TransactionEvent:
    """Return the typed transaction event for its Avro record."""
    return TransactionEvent(
        event_id=EventId(r["event_id"]),
        campaign_id=CampaignId(r["campaign_id"]),
        contact_id=ContactId(r["contact_id"]),
        version=r["version"],
        observed_at=r["observed_at"],
        fired=r["fired"],
        transaction_id=r["transaction_id"],
        state=TransactionState(r["state"]),
        task_log_index=r["task_log_index"],
        transaction_index=r["transaction_index"],
        contact=decode_attributes(r["contact"]),
        transaction=decode_attributes(r["transaction"]),
        connections=tuple(_connection_from_record(c) for c in r["connections"]),
        has_connections=r["has_connections"],
    )


def inbound_call_event_from_record(r: Mapping[str, Any]) -> InboundCallEvent:
    """Return the typed inbound call event for its Avro record."""
    contact_id = r["contact_id"]
    return InboundCallEvent(
        event_id=EventId(r["event_id"]),
        campaign_id=CampaignId(r["campaign_id"]),
        call_id=r["call_id"],
        version=r["version"],
        observed_at=r["observed_at"],
        call=decode_attributes(r["call"]),
        contact_id=ContactId(contact_id) if contact_id is not None else None,
        fired=r["fired"],
    )
