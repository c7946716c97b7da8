"""Load the example payloads shipped in schemas/examples/ as typed events."""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

from schemas import (
    CampaignId,
    ContactId,
    ContactSnapshot,
    Event,
    EventId,
    InboundCallEvent,
    TransactionEvent,
    TransactionState,
)
from schemas.events import split_transaction


def iter_example_files() -> list[tuple[str, str]]:
    """Return (kind, filename) for every shipped example."""
    root = resources.files("schemas").joinpath("examples")
    found = []
    for kind_dir in sorted(root.iterdir(), key=lambda p: p.name):
        if kind_dir.is_dir():
            for f in sorted(kind_dir.iterdir(), key=lambda p: p.name):
                if f.name.endswith(".json"):
                    found.append((kind_dir.name, f.name))
    return found


def load_example_json(kind: str, name: str) -> dict[str, Any]:
    """Return one example as raw JSON."""
    text = resources.files("schemas").joinpath("examples", kind, name).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def event_from_example(kind: str, raw: dict[str, Any]) -> Event:
    """Build the typed event an example describes."""
    common: dict[str, Any] = {
        "event_id": EventId(raw["event_id"]),
        "campaign_id": CampaignId(raw["campaign_id"]),
        "version": raw["version"],
        "observed_at": datetime.fromisoformat(raw["observed_at"]),
        "fired": raw["fired"],
    }
    if kind == "contact_snapshot":
        return ContactSnapshot(
            contact_id=ContactId(raw["contact_id"]),
            md5=raw["md5"],
            contact=raw["contact"],
            **common,
        )
    if kind == "transaction_event":
        attrs, has, conns = split_transaction(raw["transaction_as_delivered"])
        return TransactionEvent(
            contact_id=ContactId(raw["contact_id"]),
            transaction_id=raw["transaction_id"],
            state=TransactionState(raw["state"]),
            task_log_index=raw["task_log_index"],
            transaction_index=raw["transaction_index"],
            contact=raw["contact"],
            transaction=attrs,
            connections=conns,
            has_connections=has,
            **common,
        )
    if kind == "inbound_call_event":
        cid = raw["contact_id"]
        return InboundCallEvent(
            call_id=raw["call_id"],
            call=raw["call"],
            contact_id=ContactId(cid) if cid else None,
            **common,
        )
    raise ValueError(kind)


def all_examples() -> list[tuple[str, str, dict[str, Any], Event]]:
    """Return (kind, name, raw json, typed event) for every example."""
    out = []
    for kind, name in iter_example_files():
        raw = load_example_json(kind, name)
        out.append((kind, name, raw, event_from_example(kind, raw)))
    return out
