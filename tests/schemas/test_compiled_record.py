"""The compiled record reader returns what the pure-Python one returns, and fails where it fails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas import ContactSnapshot, InboundCallEvent, encode_event, fast_decode
from schemas.codec import HEADER_SIZE
from tests.schemas.example_events import all_examples
from tests.schemas.test_fast_decode import _edge_events

LAYOUTS = {ContactSnapshot: "sssSllSm", InboundCallEvent: "ssSSllsm"}


def _outcome(reader: Any, data: bytes, layout: str) -> tuple[str, Any]:
    try:
        return "fields", reader(data, HEADER_SIZE, layout, json.loads)
    except Exception:  # either reader may raise any error; the codec falls back on all of them
        return "error", None


def _bodies() -> list[tuple[bytes, str]]:
    events = [event for _, _, _, event in all_examples()] + _edge_events()
    return [(encode_event(e), LAYOUTS[type(e)]) for e in events if type(e) in LAYOUTS]


def test_the_install_built_the_compiled_reader() -> None:
    # .ci/run installs gcc and the Python headers; without them the pure-Python reader is used.
    assert fast_decode.COMPILED
    assert fast_decode.read_record is not fast_decode.read_record_py


def test_compiled_reader_matches_python_reader_on_every_example() -> None:
    bodies = _bodies()
    assert len(bodies) >= 4
    for data, layout in bodies:
        compiled = fast_decode.read_record(data, HEADER_SIZE, layout, json.loads)
        python = fast_decode.read_record_py(data, HEADER_SIZE, layout, json.loads)
        assert compiled == python
        assert [type(v) for v in compiled] == [type(v) for v in python]
        assert {k: type(v) for k, v in compiled[-1].items()} == {
            k: type(v) for k, v in python[-1].items()
        }


def test_compiled_reader_fails_where_python_reader_fails() -> None:
    checked = 0
    for data, layout in _bodies():
        for cut in range(HEADER_SIZE, len(data)):
            flipped = data[:cut] + bytes([data[cut] ^ 0xFF]) + data[cut + 1 :]
            for candidate in (data[:cut], data[:cut] + b"\x00", flipped):
                compiled = _outcome(fast_decode.read_record, candidate, layout)
                assert compiled == _outcome(fast_decode.read_record_py, candidate, layout)
                checked += compiled[0] == "error"
    assert checked > 1000


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "truncated varint"),
        (b"\x02", "past the end"),  # a string of length 1 with no byte
        (b"\xff" * 11, "varint"),  # a varint longer than 64 bits
        (b"\x00" * 7 + b"\x02\x00", "truncated union"),  # a map entry without its branch
        (b"\x00" * 7 + b"\x02\x00\x0c", "bad union branch"),  # branch 6 is not in the union
    ],
)
def test_compiled_reader_rejects_bad_bytes_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        fast_decode.read_record(body, 0, "sssSllSm", json.loads)


def test_compiled_reader_rejects_bytes_after_the_record_and_bad_arguments() -> None:
    good = encode_event(_edge_events()[1])
    with pytest.raises(ValueError, match="length mismatch"):
        fast_decode.read_record(good + b"\x00", HEADER_SIZE, "sssSllSm", json.loads)
    with pytest.raises(TypeError):
        fast_decode.read_record(bytearray(good), HEADER_SIZE, "sssSllSm", json.loads)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside"):
        fast_decode.read_record(good, len(good) + 1, "sssSllSm", json.loads)


def test_compiled_reader_hands_out_cached_attribute_names() -> None:
    bodies = [b for b in _bodies() if b[1] == "sssSllSm"]
    data, layout = bodies[0]
    first = fast_decode.read_record(data, HEADER_SIZE, layout, json.loads)[-1]
    second = fast_decode.read_record(data, HEADER_SIZE, layout, json.loads)[-1]
    short = [k for k in first if len(k.encode()) <= 64]
    same = [a for a, b in zip(first, second, strict=True) if a is b]
    # Direct-mapped: two names of one event may share a slot and miss each time; rare.
    assert short and len(same) >= 0.9 * len(short)
    # Far more distinct names than cache slots, colliding: every one still decodes right.
    for index in range(5000):
        name = f"field_{index}_ü"
        body = b"\x00" * 7 + b"\x02" + _avro_string(name) + b"\x00" + b"\x00"
        fields = fast_decode.read_record(body, 0, layout, json.loads)
        assert fields[-1] == {name: None}


def _avro_string(text: str) -> bytes:
    raw = text.encode()
    return bytes([len(raw) << 1]) + raw  # names here are shorter than 64 bytes
