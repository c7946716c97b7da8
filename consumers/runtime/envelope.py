"""An event together with the Kafka coordinates and raw bytes it arrived with."""

from __future__ import annotations

from typing import Any, NamedTuple

from schemas import DecodeError, Event, decode_event


class Envelope(NamedTuple):
    """One consumed message: the decoded event (or why it could not be decoded) and its origin.

    Immutable; a named tuple because one is built per message (a third of a frozen dataclass's
    construction cost).
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = ()
    event: Event | None = None
    decode_error: str | None = None

    @property
    def contact_key(self) -> str:
        """The message key as text (the contact id), '' when absent or not UTF-8."""
        if self.key is None:
            return ""
        return self.key.decode("utf-8", errors="replace")


def open_envelope(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    timestamp_ms: int,
    headers: list[tuple[str, bytes]] | None,
) -> Envelope:
    """Decode a message's value into an Envelope; a decode failure is kept, never raised."""
    hdrs = tuple((k, v if isinstance(v, bytes) else b"") for k, v in headers) if headers else ()
    try:
        event = decode_event(value)
    except DecodeError as exc:
        return Envelope(topic, partition, offset, key, value, timestamp_ms, hdrs, None, str(exc))
    return Envelope(topic, partition, offset, key, value, timestamp_ms, hdrs, event, None)


def open_message(message: Any) -> Envelope:
    """Decode a consumed confluent-kafka message (one without an error) into an Envelope."""
    return open_envelope(
        message.topic(),
        message.partition(),
        message.offset(),
        message.key(),
        message.value(),
        message.timestamp()[1],
        message.headers(),
    )
