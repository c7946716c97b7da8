"""The dbsync2 contract: event model, Avro schemas, codec, ids and the topic catalogue.

Producer, consumers and ops depend on this package and never on each other. It performs no I/O
at import time and imports no Kafka client, database driver or HTTP library.
"""

from schemas.codec import EventCodec, decode_event, encode_event
from schemas.errors import DecodeError, EncodeError
from schemas.events import (
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
    message_key,
)
from schemas.ids import (
    derive_event_id,
    derive_recording_id,
    derive_transaction_id,
    derive_transaction_ids,
    md5_hex,
)
from schemas.topics import CATALOGUE, DEAD_LETTERS, EVENTS, TopicSpec

__all__ = [
    "CATALOGUE",
    "DEAD_LETTERS",
    "EVENTS",
    "CampaignId",
    "Connection",
    "ContactId",
    "ContactSnapshot",
    "DecodeError",
    "EncodeError",
    "Event",
    "EventCodec",
    "EventId",
    "InboundCallEvent",
    "JsonValue",
    "Recording",
    "TopicSpec",
    "TransactionEvent",
    "TransactionState",
    "decode_event",
    "derive_event_id",
    "derive_recording_id",
    "derive_transaction_id",
    "derive_transaction_ids",
    "encode_event",
    "md5_hex",
    "message_key",
]
