"""Schema evolution: an added optional field is readable in both directions."""

from __future__ import annotations

import copy
import io
from typing import Any

import fastavro

from schemas import ContactSnapshot, EventCodec
from schemas.codec import MARKER, SCHEMA_FILES, fingerprint_of, load_schema_json
from schemas.records import to_record
from tests.schemas.example_events import all_examples


def _newer_contact_schema() -> dict[str, Any]:
    newer = copy.deepcopy(load_schema_json(SCHEMA_FILES[ContactSnapshot]))
    newer["fields"].append({"name": "source_region", "type": ["null", "string"], "default": None})
    return newer


def _contact_example() -> ContactSnapshot:
    for kind, _, _, event in all_examples():
        if kind == "contact_snapshot" and isinstance(event, ContactSnapshot):
            return event
    raise AssertionError("no contact example")


def test_data_written_by_a_newer_schema_is_read_by_the_current_one() -> None:
    newer = _newer_contact_schema()
    event = _contact_example()
    record = to_record(event) | {"source_region": "eu-central"}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(newer), record)
    fp = fingerprint_of(newer)
    codec = EventCodec(extra_writers={fp: (ContactSnapshot, newer)})
    decoded = codec.decode(MARKER + fp + body.getvalue())
    assert decoded == event


def test_data_written_by_the_current_schema_is_read_by_a_newer_one() -> None:
    newer = fastavro.parse_schema(_newer_contact_schema())
    current = fastavro.parse_schema(load_schema_json(SCHEMA_FILES[ContactSnapshot]))
    event = _contact_example()
    data = EventCodec().encode(event)
    record = fastavro.schemaless_reader(io.BytesIO(data[10:]), current, newer)
    assert isinstance(record, dict)
    assert record["source_region"] is None
    assert record["contact_id"] == event.contact_id
