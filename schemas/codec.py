"""Encode and decode events as Avro single-object encoding, with no schema registry.

Wire format (Avro specification, "Single object encoding"): the two marker bytes C3 01, the
8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, then
the Avro binary body. The fingerprint tells the reader which schema (and so which event type)
wrote the bytes. Unknown fingerprints, a wrong marker and corrupt bodies raise `DecodeError`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import fastavro
import fastavro.schema

from schemas.errors import DecodeError, EncodeError
from schemas.events import ContactSnapshot, Event, InboundCallEvent, TransactionEvent
from schemas.fast_decode import FAST_READERS
from schemas.records import (
    contact_snapshot_from_record,
    inbound_call_event_from_record,
    to_record,
    transaction_event_from_record,
)

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8

SCHEMA_FILES: Mapping[type[Any], str] = {
    ContactSnapshot: "contact_snapshot.v1.avsc",
    TransactionEvent: "transaction_event.v1.avsc",
    InboundCallEvent: "inbound_call_event.v1.avsc",
}
_FROM_RECORD: Mapping[type[Any], Callable[[Mapping[str, Any]], Event]] = {
    ContactSnapshot: contact_snapshot_from_record,
    TransactionEvent: transaction_event_from_record,
    InboundCallEvent: inbound_call_event_from_record,
}


def load_schema_json(filename: str) -> dict[str, Any]:
    """Return one packaged .avsc file as JSON."""
    text = resources.files("schemas").joinpath("avro", filename).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def fingerprint_of(schema_json: Mapping[str, Any]) -> bytes:
    """Return the 8-byte little-endian CRC-64-AVRO fingerprint of a schema."""
    canonical = fastavro.schema.to_parsing_canonical_form(dict(schema_json))
    return bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))


@dataclass(frozen=True)
class _Writer:
    schema: Any
    header: bytes


class EventCodec:
    """Encodes typed events to single-object Avro bytes and decodes them back."""

    def __init__(
        self, extra_writers: Mapping[bytes, tuple[type[Any], Mapping[str, Any]]] | None = None
    ) -> None:
        """Build codecs for the current schemas.

        `extra_writers` maps the fingerprint of another (older or newer) writer schema to its
        event type and schema JSON; such messages are resolved into the current reader schema.
        """
        extra_readers = extra_writers or {}
        self._writers: dict[type[Any], _Writer] = {}
        # fingerprint -> (event type, writer schema); the reader schema is always the current one.
        self._readers: dict[bytes, tuple[type[Any], Any]] = {}
        # fingerprint of a current schema -> its fast reader (bytes, body start) -> event.
        self._fast: dict[bytes, Callable[[bytes, int], Event]] = {}
        for event_type, filename in SCHEMA_FILES.items():
            schema_json = load_schema_json(filename)
            parsed = fastavro.parse_schema(schema_json)
            fp = fingerprint_of(schema_json)
            self._writers[event_type] = _Writer(parsed, MARKER + fp)
            self._readers[fp] = (event_type, parsed)
            fast = FAST_READERS.get(event_type)
            if fast is not None and fast[0] == fp.hex():
                self._fast[fp] = fast[1]
        for fp, (event_type, writer_json) in extra_readers.items():
            self._readers[fp] = (event_type, fastavro.parse_schema(dict(writer_json)))
            self._fast.pop(fp, None)

    def fingerprints(self) -> dict[str, bytes]:
        """Return the fingerprint of each current schema, by event type name."""
        return {t.__name__: w.header[len(MARKER) :] for t, w in self._writers.items()}

    def encode(self, event: Event) -> bytes:
        """Return the single-object encoding of an event."""
        writer = self._writers[type(event)]
        out = io.BytesIO()
        out.write(writer.header)
        try:
            fastavro.schemaless_writer(out, writer.schema, to_record(event))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise EncodeError(f"cannot encode {type(event).__name__}: {exc}") from exc
        return out.getvalue()

    def decode(self, data: bytes | None) -> Event:
        """Return the event in `data`; raise DecodeError for anything that is not one."""
        if data is None:
            raise DecodeError("empty message (no value)")
        if len(data) < HEADER_SIZE:
            raise DecodeError(
                f"message too short for an Avro single-object header ({len(data)} bytes)"
            )
        if data[:2] != MARKER:
            raise DecodeError(
                f"not Avro single-object encoding: marker {data[:2].hex()} instead of c301"
            )
        fp = data[2:HEADER_SIZE]
        fast = self._fast.get(fp)
        if fast is not None:
            try:
                return fast(data, HEADER_SIZE)
            except Exception:  # anything unusual: fastavro decodes it below, errors as before
                fast = None
        reader = self._readers.get(fp)
        if reader is None:
            raise DecodeError(
                f"unknown schema fingerprint {fp.hex()}: not written by a schema this build knows"
            )
        event_type, writer_schema = reader
        current = self._writers[event_type].schema
        reader_schema = None if writer_schema is current else current
        body = io.BytesIO(data[HEADER_SIZE:])
        try:
            record = fastavro.schemaless_reader(body, writer_schema, reader_schema)
        except Exception as exc:  # fastavro raises many types on corrupt input
            raise DecodeError(
                f"corrupt {event_type.__name__} body: {type(exc).__name__}: {exc}"
            ) from exc
        if body.tell() != len(data) - HEADER_SIZE:
            raise DecodeError(
                f"corrupt {event_type.__name__} body: trailing bytes after the record"
            )
        if not isinstance(record, dict):
            raise DecodeError(f"corrupt {event_type.__name__} body: not a record")
        try:
            return _FROM_RECORD[event_type](record)
        except (KeyError, ValueError, TypeError) as exc:
            raise DecodeError(f"corrupt {event_type.__name__} record: {exc}") from exc


@cache
def default_codec() -> EventCodec:
    """Return a process-wide codec for the current schemas (built on first use, not import)."""
    return EventCodec()


def encode_event(event: Event) -> bytes:
    """Encode with the default codec."""
    return default_codec().encode(event)


def decode_event(data: bytes | None) -> Event:
    """Decode with the default codec."""
    return default_codec().decode(data)
