"""Seeded fuzzing of the compiled Avro record reader against its pure-Python twin (seconds).

`schemas._avro_record.read_record` vs `fast_decode.read_record_py`: random events of both flat
schemas, encoded and then cut, bit-flipped, overwritten, spliced with adversarial varints;
hand-made varints at every 64-bit boundary and beyond it. (The text-cell joiner's fuzzing is in
tests/sql/test_text_cells_fuzz.py.)
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import astuple, is_dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import (
    CampaignId,
    ContactId,
    ContactSnapshot,
    EventId,
    InboundCallEvent,
    encode_event,
    fast_decode,
)
from schemas.codec import HEADER_SIZE

LAYOUTS = {ContactSnapshot: "sssSllSm", InboundCallEvent: "ssSSllsm"}
TEXTS = ["", "a", "Müller 😀", "\x00\x01\t\n\r\\'\"\x1a", "\U0010ffff", "x" * 200, "é" * 70]
# Varints that sit on the 64-bit edge: the largest, one byte too long, bits past 64, padding.
EDGE_VARINTS = [
    b"\xfe" * 9 + b"\x01",
    b"\x80" * 10 + b"\x00",
    b"\xff" * 10 + b"\x01",
    b"\x81" * 9 + b"\x02",
    b"\x80" * 9 + b"\x7f",
    b"\xff" * 9 + b"\x00",
]


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types, NaN equal to NaN and -0.0 distinct from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if is_dataclass(a) and not isinstance(a, type):
        return _same(astuple(a), astuple(b))
    return bool(a == b)


def _outcome(reader: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", reader(*args)
    except Exception:  # either twin may raise anything; the callers fall back on all of them
        return "error", None


def _agree(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    return a[0] == b[0] and _same(a[1], b[1])


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if r < 0.12:
        return None
    if r < 0.22:
        return rng.random() < 0.5
    if r < 0.4:
        edges = [0, 1, -1, 63, 64, -65, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**70]
        return rng.choice([*edges, rng.randint(-(2**64), 2**64)])
    if r < 0.55:
        floats = [0.0, -0.0, 1.5, 1e308, 5e-324, math.inf, -math.inf, math.nan]
        return rng.choice([*floats, rng.uniform(-1e9, 1e9)])
    if r < 0.8:
        chars = [rng.randint(0, 0x7F), rng.randint(0x80, 0xD7FF), rng.randint(0xE000, 0x10FFFF)]
        return rng.choice(TEXTS) + "".join(chr(rng.choice(chars)) for _ in range(4))
    if depth < 2 and r < 0.9:
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 2:
        return {str(rng.randint(0, 9)): _json_value(rng, depth + 1) for _ in range(3)}
    return 1


def _event(rng: random.Random, index: int) -> ContactSnapshot | InboundCallEvent:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    attributes = {
        f"{rng.choice(TEXTS)}{j}": _json_value(rng) for j in range(rng.choice([0, 1, 5, 40]))
    }
    version = rng.choice([0, 1, -1, 2**63 - 1, -(2**63), rng.randint(-(2**40), 2**40)])
    if rng.random() < 0.5:
        return ContactSnapshot(
            EventId(f"e{index}"),
            CampaignId(rng.choice(TEXTS) or "C"),
            ContactId("c"),
            version,
            moment,
            attributes,
            md5=rng.choice([None, "m", ""]),
            fired=rng.choice([None, "f", "ü"]),
        )
    return InboundCallEvent(
        EventId(f"e{index}"),
        CampaignId("C"),
        rng.choice(TEXTS),
        version,
        moment,
        attributes,
        contact_id=rng.choice([None, ContactId("c")]),
        fired=rng.choice([None, "x"]),
    )


def _mutants(rng: random.Random, data: bytes) -> list[bytes]:
    body = range(HEADER_SIZE, len(data))
    out = [data[: rng.choice(body)]]
    flipped, overwritten = bytearray(data), bytearray(data)
    flipped[rng.choice(body)] ^= 1 << rng.randrange(8)
    overwritten[rng.choice(body)] = rng.randrange(256)
    out += [bytes(flipped), bytes(overwritten)]
    at = rng.randint(HEADER_SIZE, len(data))
    out.append(data[:at] + rng.choice(EDGE_VARINTS) + data[at:])
    out.append(data[:at] + rng.randbytes(rng.randint(1, 11)) + data[at:])
    cut = rng.choice(body)
    out.append(data[:cut] + data[cut + rng.randint(1, 4) :])
    out.append(data + rng.randbytes(1))
    out.append(data[:HEADER_SIZE] + rng.randbytes(rng.randint(0, 40)))
    return out


def test_compiled_reader_matches_python_on_random_and_mutated_bodies() -> None:
    rng = random.Random(20260101)
    outcomes = {"ok": 0, "error": 0}
    for index in range(500):
        event = _event(rng, index)
        data = encode_event(event)
        layout = LAYOUTS[type(event)]
        compiled = _outcome(fast_decode.read_record, data, HEADER_SIZE, layout, json.loads)
        python = _outcome(fast_decode.read_record_py, data, HEADER_SIZE, layout, json.loads)
        assert compiled[0] == "ok" and _agree(compiled, python), event
        for mutant in _mutants(rng, data):
            compiled = _outcome(fast_decode.read_record, mutant, HEADER_SIZE, layout, json.loads)
            python = _outcome(fast_decode.read_record_py, mutant, HEADER_SIZE, layout, json.loads)
            assert _agree(compiled, python), mutant.hex()
            outcomes[compiled[0]] += 1
    assert outcomes["ok"] > 300 and outcomes["error"] > 2000


def _zigzag_varint(value: int) -> bytes:
    n = ((value << 1) ^ (value >> 63)) & (2**64 - 1)
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes([*out, n])


def test_varints_at_the_64_bit_edges() -> None:
    rng = random.Random(7)
    values = [0, 1, -1, 63, -64, 64, 2**62, -(2**62), 2**63 - 1, -(2**63)]
    values += [rng.randint(-(2**63), 2**63 - 1) for _ in range(2000)]
    for value in values:
        data = _zigzag_varint(value)
        assert fast_decode.read_record(data, 0, "l", json.loads) == (value,)
        assert fast_decode.read_record_py(data, 0, "l", json.loads) == (value,)
    padded = [b"\x80" * k + b"\x00" for k in range(10)]  # non-minimal zero: both accept
    for data in [*padded, *EDGE_VARINTS, b"\xff" * 11, b"\x80" * 11 + b"\x00", b"\xff" * 10]:
        for layout in ("l", "ll", "s", "m"):
            compiled = _outcome(fast_decode.read_record, data, 0, layout, json.loads)
            python = _outcome(fast_decode.read_record_py, data, 0, layout, json.loads)
            assert _agree(compiled, python), (data.hex(), layout)
    for beyond in (b"\x80" * 9 + b"\x02", b"\xff" * 10 + b"\x01", b"\x80" * 10 + b"\x01"):
        with pytest.raises(ValueError, match="varint"):
            fast_decode.read_record(beyond, 0, "l", json.loads)


def test_random_bytes_and_layouts_and_starts() -> None:
    rng = random.Random(3)
    for _ in range(20000):
        size = rng.randint(0, 24)
        data = bytes(
            rng.choice([0, 1, 2, 4, 6, 8, 10, 0x80, rng.randrange(256)]) for _ in range(size)
        )
        layout = "".join(rng.choice("sSlm") for _ in range(rng.randint(0, 4)))
        start = rng.randint(0, size)
        compiled = _outcome(fast_decode.read_record, data, start, layout, json.loads)
        python = _outcome(fast_decode.read_record_py, data, start, layout, json.loads)
        assert _agree(compiled, python), (data.hex(), start, layout)
    with pytest.raises(ValueError, match="outside"):
        fast_decode.read_record(b"\x00", -1, "ll", json.loads)


def test_map_block_count_of_minus_2_63_is_rejected() -> None:
    # Negating it overflowed in C (undefined behaviour; the block was skipped): now rejected.
    # A map block of -2**63 entries (zig-zag 2**64 - 1), its byte size 0, the end of the map.
    body = b"\xff" * 9 + b"\x01" + b"\x00" + b"\x00"
    with pytest.raises(IndexError):  # Python reads 2**63 entries and runs off the end
        fast_decode.read_record_py(body, 0, "m", json.loads)
    with pytest.raises(ValueError):
        fast_decode.read_record(body, 0, "m", json.loads)
