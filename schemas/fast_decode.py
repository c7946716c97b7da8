"""Decode the current schemas' flat event bodies in one pass, faster than the generic reader.

fastavro's reader pulls every varint and string through `file.read()` calls, about 0.6 us per
map entry; these readers walk the bytes directly and build the typed event in one pass. They
handle only bodies written with the current schema (the codec checks the fingerprint) and raise
on anything unexpected; the codec then decodes the same bytes again with fastavro, so errors,
messages and edge cases stay exactly those of the fastavro path.

The walk itself is `read_record`: the compiled `schemas._avro_record` when the install built it
(~10x faster), else `read_record_py` below, which has the same contract and is what tests
compare the compiled one against.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from fastavro.read import LOGICAL_READERS

from schemas.events import (
    CampaignId,
    ContactId,
    ContactSnapshot,
    Event,
    EventId,
    InboundCallEvent,
    JsonValue,
)
from schemas.native import compiled_or


class FastDecodeError(Exception):
    """The fast reader met something it does not handle; decode with fastavro instead."""


_unpack_double = struct.Struct("<d").unpack_from
_read_timestamp_millis = LOGICAL_READERS["long-timestamp-millis"]


def _timestamp_millis(millis: int) -> datetime:
    """Return the datetime fastavro returns for a timestamp-millis value."""
    moment: datetime = _read_timestamp_millis(millis, None, None)
    return moment


def _read_long(data: bytes, pos: int) -> tuple[int, int]:
    """Return the zig-zag varint at `pos` and the position after it."""
    b = data[pos]
    pos += 1
    n = b & 0x7F
    shift = 7
    while b & 0x80:
        if shift > 63:
            raise FastDecodeError("varint too long")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
    if n >> 64:
        raise FastDecodeError("varint beyond 64 bits")
    return (n >> 1) ^ -(n & 1), pos


def _read_string(data: bytes, pos: int) -> tuple[str, int]:
    """Return the UTF-8 string at `pos` and the position after it."""
    n = data[pos]
    if n < 0x80 and not n & 1:
        n >>= 1
        pos += 1
    else:
        n, pos = _read_long(data, pos)
        if n < 0:
            raise FastDecodeError("negative length")
    end = pos + n
    return data[pos:end].decode("utf-8"), end


def _read_optional_string(data: bytes, pos: int) -> tuple[str | None, int]:
    """Return the ["null", "string"] union value at `pos` and the position after it."""
    branch = data[pos]
    if branch == 0:
        return None, pos + 1
    if branch == 2:
        return _read_string(data, pos + 1)
    raise FastDecodeError("bad union branch")


# Attribute names repeat from event to event (a campaign has a few dozen fields): their decoded
# strings are kept, bounded, so each name is decoded from UTF-8 once, not once per event.
KEY_CACHE_SIZE = 4096
_KEYS: dict[bytes, str] = {}


def read_attribute_map(
    data: bytes, pos: int, json_loads: Callable[[str], Any] = json.loads
) -> tuple[dict[str, JsonValue], int]:
    """Return the attribute map at `pos` as JSON values (what `decode_attributes` returns).

    The map's values are the union [null, boolean, long, double, string, JsonText]; the branch
    index is one zig-zag byte 0, 2, 4, 6, 8 or 10.
    """
    out: dict[str, JsonValue] = {}
    while True:
        count, pos = _read_long(data, pos)
        if count == 0:
            return out, pos
        if count < 0:
            count = -count
            _, pos = _read_long(data, pos)  # block size in bytes
        for _ in range(count):
            n = data[pos]
            if n < 0x80 and not n & 1:
                n >>= 1
                pos += 1
            else:
                n, pos = _read_long(data, pos)
                if n < 0:
                    raise FastDecodeError("negative length")
            end = pos + n
            raw = data[pos:end]
            key = _KEYS.get(raw)
            if key is None:
                key = raw.decode("utf-8")
                if len(_KEYS) < KEY_CACHE_SIZE:
                    _KEYS[raw] = key
            branch = data[end]
            pos = end + 1
            value: JsonValue
            if branch == 8:
                n = data[pos]
                if n < 0x80 and not n & 1:
                    n >>= 1
                    pos += 1
                else:
                    n, pos = _read_long(data, pos)
                    if n < 0:
                        raise FastDecodeError("negative length")
                end = pos + n
                value = data[pos:end].decode("utf-8")
                pos = end
            elif branch == 0:
                value = None
            elif branch == 4:
                value, pos = _read_long(data, pos)
            elif branch == 6:
                value = _unpack_double(data, pos)[0]
                pos += 8
            elif branch == 2:
                flag = data[pos]
                if flag > 1:
                    raise FastDecodeError("bad boolean")
                value = flag == 1
                pos += 1
            elif branch == 10:
                text, pos = _read_string(data, pos)
                value = json_loads(text)
            else:
                raise FastDecodeError("bad union branch")
            out[key] = value


def read_record_py(
    data: bytes, pos: int, layout: str, json_loads: Callable[[str], Any]
) -> tuple[Any, ...]:
    """Return the fields of the record at `pos`, one per `layout` letter; it must end the data.

    Letters: s string, S ["null", "string"], l long, m attribute map (see `read_attribute_map`).
    JsonText values go through `json_loads`. The pure-Python twin of `schemas._avro_record`.
    """
    if not 0 <= pos <= len(data):
        raise FastDecodeError("start outside the data")
    fields: list[Any] = []
    for kind in layout:
        value: Any
        if kind == "s":
            value, pos = _read_string(data, pos)
        elif kind == "S":
            value, pos = _read_optional_string(data, pos)
        elif kind == "l":
            value, pos = _read_long(data, pos)
        elif kind == "m":
            value, pos = read_attribute_map(data, pos, json_loads)
        else:
            raise ValueError(f"unknown layout letter {kind}")
        fields.append(value)
    if pos != len(data):
        raise FastDecodeError("body length mismatch")
    return tuple(fields)


ReadRecord = Callable[[bytes, int, str, Callable[[str], Any]], tuple[Any, ...]]
read_record: ReadRecord = compiled_or("schemas._avro_record", "read_record", read_record_py)
COMPILED = read_record is not read_record_py


def contact_snapshot_from_bytes(data: bytes, pos: int) -> ContactSnapshot:
    """Return the contact snapshot whose current-schema body starts at `pos` (to the end)."""
    event_id, campaign_id, contact_id, fired, version, observed_ms, md5, contact = read_record(
        data, pos, "sssSllSm", json.loads
    )
    return ContactSnapshot(
        event_id=EventId(event_id),
        campaign_id=CampaignId(campaign_id),
        contact_id=ContactId(contact_id),
        version=version,
        observed_at=_timestamp_millis(observed_ms),
        contact=contact,
        md5=md5,
        fired=fired,
    )


def inbound_call_event_from_bytes(data: bytes, pos: int) -> InboundCallEvent:
    """Return the inbound call event whose current-schema body starts at `pos` (to the end)."""
    event_id, campaign_id, contact_id, fired, version, observed_ms, call_id, call = read_record(
        data, pos, "ssSSllsm", json.loads
    )
    return InboundCallEvent(
        event_id=EventId(event_id),
        campaign_id=CampaignId(campaign_id),
        call_id=call_id,
        version=version,
        observed_at=_timestamp_millis(observed_ms),
        call=call,
        contact_id=ContactId(contact_id) if contact_id is not None else None,
        fired=fired,
    )


# Fast readers by event type: (fingerprint of the schema they read, (bytes, body start) ->
# event). The codec uses one only while the packaged schema still has that fingerprint, so an
# edited .avsc falls back to fastavro until its reader here is updated. Transaction events
# (nested arrays of connections) keep the fastavro path.
FAST_READERS: Mapping[type[Any], tuple[str, Callable[[bytes, int], Event]]] = {
    ContactSnapshot: ("deb16c5bc87172cb", contact_snapshot_from_bytes),
    InboundCallEvent: ("f13b6cd9d823f9ef", inbound_call_event_from_bytes),
}
