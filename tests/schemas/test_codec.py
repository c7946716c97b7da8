"""Round trips, interoperability with the Apache Avro library, and bad-input handling."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import avro.io
import avro.schema
import fastavro.schema
import pytest

from schemas import DecodeError, EventCodec, TransactionEvent, decode_event, encode_event
from schemas.codec import HEADER_SIZE, MARKER, SCHEMA_FILES, fingerprint_of, load_schema_json
from tests.schemas.example_events import all_examples

EXAMPLES = all_examples()

_EMPTY = 0xC15D213AA4D7A795  # the Avro spec's "empty" CRC-64-AVRO value


def rabin_fingerprint(data: bytes) -> int:
    """CRC-64-AVRO as the Avro specification defines it (reference implementation for tests)."""
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def test_rabin_reference_matches_the_avro_library_on_a_primitive() -> None:
    assert rabin_fingerprint(b'"int"').to_bytes(8, "little") == avro.schema.parse(
        '"int"'
    ).fingerprint("CRC-64-AVRO")


IDS = [f"{kind}/{name}" for kind, name, _, _ in EXAMPLES]


@pytest.mark.parametrize(("kind", "name", "raw", "event"), EXAMPLES, ids=IDS)
def test_every_example_round_trips(kind: str, name: str, raw: dict[str, Any], event: Any) -> None:
    data = encode_event(event)
    assert data[:2] == MARKER
    decoded = decode_event(data)
    assert decoded == event
    if isinstance(decoded, TransactionEvent):
        # Nothing Dialfire sent is lost: the transaction is rebuilt exactly.
        assert decoded.transaction_as_delivered() == raw["transaction_as_delivered"]
        assert decoded.webhook_payload()["transaction"] == raw["transaction_as_delivered"]
        assert decoded.webhook_payload()["state"] == raw["state"]


def _normalise(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


@pytest.mark.parametrize(("kind", "name", "raw", "event"), EXAMPLES, ids=IDS)
def test_apache_avro_library_decodes_our_bytes_from_the_avsc_alone(
    kind: str, name: str, raw: dict[str, Any], event: Any
) -> None:
    """The official `avro` package reads our messages with nothing but the .avsc file."""
    avsc_text = json.dumps(load_schema_json(SCHEMA_FILES[type(event)]))
    schema = avro.schema.parse(avsc_text)
    data = encode_event(event)
    # The header is the spec's CRC-64-AVRO of the Parsing Canonical Form, computed here by an
    # independent implementation. (avro-python's own `canonical_form` keeps `{"type": "long"}`
    # for logical types instead of the primitive name the spec requires, so its fingerprint of
    # these schemas differs; Java and fastavro follow the spec.)
    pcf = fastavro.schema.to_parsing_canonical_form(load_schema_json(SCHEMA_FILES[type(event)]))
    assert data[2:HEADER_SIZE] == rabin_fingerprint(pcf.encode()).to_bytes(8, "little")
    reader = avro.io.DatumReader(schema)
    record = reader.read(avro.io.BinaryDecoder(io.BytesIO(data[HEADER_SIZE:])))
    assert record["event_id"] == event.event_id
    assert record["version"] == event.version
    assert _normalise(record["observed_at"]) == event.observed_at
    # The JSON attributes decode to the same values through the avro library too.
    attrs_field = {"contact_snapshot": "contact", "transaction_event": "transaction"}.get(
        kind, "call"
    )
    ours = getattr(event, attrs_field)
    theirs = {
        k: json.loads(v["json"]) if isinstance(v, dict) else v
        for k, v in record[attrs_field].items()
    }
    assert theirs == dict(ours)


def test_decode_rejects_corrupt_bytes_with_one_exception_type() -> None:
    _, _, _, event = EXAMPLES[0]
    good = encode_event(event)
    cases = {
        "empty": b"",
        "none": None,
        "short": b"\xc3",
        "wrong marker": b"\x00\x01" + good[2:],
        "json": b'{"event_id": "x"}',
        "unknown fingerprint": MARKER + b"\xff" * 8 + good[HEADER_SIZE:],
        "truncated body": good[: len(good) // 2],
        "trailing garbage": good + b"\x00\x01",
        "random": bytes(range(256)),
    }
    for label, data in cases.items():
        with pytest.raises(DecodeError) as info:
            decode_event(data)
        assert str(info.value), label
    with pytest.raises(DecodeError, match="unknown schema fingerprint ffffffffffffffff"):
        decode_event(cases["unknown fingerprint"])
    with pytest.raises(DecodeError, match="marker 0001 instead of c301"):
        decode_event(cases["wrong marker"])


def test_fingerprints_are_distinct_per_event_type() -> None:
    prints = EventCodec().fingerprints()
    assert len(set(prints.values())) == len(SCHEMA_FILES) == 3
    for event_type, filename in SCHEMA_FILES.items():
        assert prints[event_type.__name__] == fingerprint_of(load_schema_json(filename))
