"""The codec's fast readers give exactly what the fastavro path gives, for good and bad bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas import (
    CampaignId,
    ContactId,
    ContactSnapshot,
    DecodeError,
    EventCodec,
    EventId,
    InboundCallEvent,
    encode_event,
)
from schemas.codec import HEADER_SIZE
from schemas.fast_decode import FAST_READERS
from tests.schemas.example_events import all_examples


def _outcome(codec: EventCodec, data: bytes) -> tuple[str, str]:
    try:
        return "event", repr(codec.decode(data))
    except DecodeError as exc:
        # fastavro names the BytesIO object (and its address) in some messages.
        return "error", str(exc).split(" from <")[0]


def _codecs() -> tuple[EventCodec, EventCodec]:
    slow = EventCodec()
    slow._fast = {}  # the fastavro path only
    return EventCodec(), slow


def _edge_events() -> list[Any]:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    attributes: dict[str, Any] = {
        "object": {"x": [1, 2, {"y": None}]},
        "array": [1, "two"],
        "huge": 2**70,
        "min": -(2**63),
        "max": 2**63 - 1,
        "true": True,
        "false": False,
        "none": None,
        "unicode": "Müller 😀 " * 40,
        "float": 1.5e300,
        "negative": -0.25,
        "k" * 200: "",
    }
    e, c, k = EventId, CampaignId("C"), ContactId
    return [
        ContactSnapshot(e("e1"), c, k("c1"), -5, moment, attributes, md5=None, fired="f"),
        ContactSnapshot(e("e2"), c, k("c2"), 2**62, moment, {}, md5="m", fired=None),
        InboundCallEvent(e("e3"), c, "call", 7, moment, attributes, contact_id=None),
        InboundCallEvent(e("e4"), c, "call", 7, moment, {}, contact_id=k("c4"), fired="x"),
    ]


def test_fast_readers_are_enabled_for_the_current_schemas() -> None:
    # Fails when an .avsc changed: update its fast reader (and fingerprint) in schemas.fast_decode.
    fingerprints = EventCodec().fingerprints()
    for event_type, (fingerprint, _) in FAST_READERS.items():
        assert fingerprints[event_type.__name__].hex() == fingerprint
    assert len(EventCodec()._fast) == len(FAST_READERS)


def test_fast_readers_match_fastavro_on_every_example_and_edge_case() -> None:
    fast, slow = _codecs()
    events = [event for _, _, _, event in all_examples()] + _edge_events()
    checked = 0
    for event in events:
        data = encode_event(event)
        decoded = fast.decode(data)
        assert decoded == slow.decode(data) == event
        assert repr(decoded) == repr(slow.decode(data))
        checked += type(event) in FAST_READERS
    assert checked >= 4


def test_fast_readers_fail_like_fastavro_on_corrupt_bodies() -> None:
    fast, slow = _codecs()
    for event in _edge_events():
        data = encode_event(event)
        for cut in range(HEADER_SIZE, len(data)):
            flipped = data[:cut] + bytes([data[cut] ^ 0xFF]) + data[cut + 1 :]
            for candidate in (data[:cut], data[:cut] + b"\x00", flipped):
                assert _outcome(fast, candidate) == _outcome(slow, candidate)
