"""Id derivations (dbsync2-compatible) and the topic catalogue."""

from __future__ import annotations

import hashlib
import re

import pytest

from schemas import (
    CATALOGUE,
    DEAD_LETTERS,
    EVENTS,
    derive_event_id,
    derive_recording_id,
    derive_transaction_id,
    derive_transaction_ids,
)
from schemas.codec import load_schema_json
from schemas.topics import dead_letter_topic, events_topic


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()  # noqa: S324 - reference for a compatibility id


def test_transaction_id_is_dbsync2_compatible() -> None:
    assert derive_transaction_id("C1", "2018-10-17T08:07:46.468Z") == _md5(
        "C12018-10-17T08:07:46.468Z"
    )


def test_same_fired_transactions_do_not_collide() -> None:
    fired = "2020-01-01T00:00:00.000Z"
    ids = derive_transaction_ids(
        "C1", [(fired, 5), ("2020-01-02T00:00:00.000Z", None), (fired, 6), (fired, None)]
    )
    assert ids[0] == _md5("C1" + fired)  # the common case is unchanged
    assert ids[1] == _md5("C1" + "2020-01-02T00:00:00.000Z")
    assert ids[2] == _md5("C1" + fired + "#6")
    assert ids[3] == _md5("C1" + fired + "#3")
    assert len(set(ids)) == 4


def test_recording_id_uses_location_else_started() -> None:
    assert derive_recording_id("CONN", "loc", "s") == _md5("CONNloc")
    assert derive_recording_id("CONN", None, "2020") == _md5("CONN2020")
    assert derive_recording_id("CONN", "", "2020") == _md5("CONN2020")


def test_event_ids_are_deterministic_and_distinct() -> None:
    a = derive_event_id("camp", "transaction", "tx1", "digest1")
    assert a == derive_event_id("camp", "transaction", "tx1", "digest1")
    assert a != derive_event_id("camp", "transaction", "tx1", "digest2")
    assert re.fullmatch(r"[0-9a-f]{32}", a)


def test_catalogue_names_and_specs() -> None:
    assert events_topic("ABC") == "dbsync2.ABC.events"
    assert dead_letter_topic("ABC", "sql") == "dbsync2.ABC.dlq.sql"
    assert events_topic("a b/c") == "dbsync2.a_b_c.events"
    assert set(CATALOGUE) == {"events", "dead_letters"}
    assert EVENTS.dead_letter_kind == DEAD_LETTERS.kind
    for filename in EVENTS.value_schemas:
        assert load_schema_json(filename)["type"] == "record"
    assert EVENTS.config()["retention.ms"] == "-1"
    with pytest.raises(ValueError):
        events_topic("")
