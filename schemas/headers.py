"""Kafka header names carried by events and by dead letters. Values are UTF-8 text."""

from typing import Final

EVENT_ID: Final = "dbsync2.event_id"
EVENT_TYPE: Final = "dbsync2.event_type"  # contact | transaction | inbound_call

# Dead letters keep the original key and value bytes; these headers say where from and why.
DLQ_GROUP: Final = "dbsync2.dlq.group"
DLQ_ORIGINAL_TOPIC: Final = "dbsync2.dlq.original_topic"
DLQ_ORIGINAL_PARTITION: Final = "dbsync2.dlq.original_partition"
DLQ_ORIGINAL_OFFSET: Final = "dbsync2.dlq.original_offset"
DLQ_ORIGINAL_TIMESTAMP: Final = "dbsync2.dlq.original_timestamp"
DLQ_ERROR_CLASS: Final = "dbsync2.dlq.error_class"
DLQ_ERROR_MESSAGE: Final = "dbsync2.dlq.error_message"
DLQ_ATTEMPTS: Final = "dbsync2.dlq.attempts"
DLQ_FIRST_ATTEMPT_AT: Final = "dbsync2.dlq.first_attempt_at"
DLQ_LAST_ATTEMPT_AT: Final = "dbsync2.dlq.last_attempt_at"
DLQ_LAST_STATUS: Final = "dbsync2.dlq.last_status"
DLQ_RESPONSE_EXCERPT: Final = "dbsync2.dlq.response_excerpt"
DLQ_DEAD_LETTERED_AT: Final = "dbsync2.dlq.dead_lettered_at"
