"""Answer the five Dialfire endpoints: parameter checks, filtering and cursor pagination."""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Mapping
from typing import Any

from simulator.campaign import Campaign, TransactionEvent
from simulator.clock import parse_query_ts

MAX_LIMIT = 1000
MAX_CONTACT_IDS = 20
# base64 of these bytes is "++++", so every cursor contains '+' and (see padding) '='.
_CURSOR_MAGIC = b"\xfb\xef\xbe"


class BadRequestError(Exception):
    """The request is malformed; the server answers 400 with this message."""


def encode_cursor(kind: str, position: int) -> str:
    """Return an opaque cursor for ``position``; it always contains ``+`` and ``=``."""
    raw = _CURSOR_MAGIC + f"{kind}:{position}".encode()
    if len(raw) % 3 == 0:
        raw += b"~"
    return base64.b64encode(raw).decode("ascii")


def decode_cursor(kind: str, cursor: str) -> int:
    """Return the position inside a cursor produced by :func:`encode_cursor`."""
    try:
        raw = base64.b64decode(cursor.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise BadRequestError(f"invalid cursor {cursor!r} (was it URL-encoded?)") from exc
    text = raw[len(_CURSOR_MAGIC) :].rstrip(b"~").decode("ascii", errors="replace")
    prefix, _, number = text.partition(":")
    if not raw.startswith(_CURSOR_MAGIC) or prefix != kind or not number.isdigit():
        raise BadRequestError(f"invalid cursor {cursor!r}")
    return int(number)


def parse_limit(params: Mapping[str, str]) -> int:
    """Return the page size (default and maximum 1000)."""
    text = params.get("limit", str(MAX_LIMIT))
    if not text.isdigit() or not 0 < int(text) <= MAX_LIMIT:
        raise BadRequestError(f"limit must be 1..{MAX_LIMIT}")
    return int(text)


def _parse_time(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    try:
        return parse_query_ts(text)
    except ValueError as exc:
        raise BadRequestError(f"{name}: {exc}") from exc


def list_fields(campaign: Campaign) -> list[dict[str, Any]]:
    """E1: the campaign's field list."""
    return campaign.fields


def list_contacts(campaign: Campaign, params: Mapping[str, str]) -> dict[str, Any]:
    """E2: ids and md5s of contacts whose ``$entry_date`` is on or after ``changedSince``."""
    limit = parse_limit(params)
    since = params.get("changedSince", "")
    if since and (len(since) != 10 or since[4] != "-" or since[7] != "-"):
        raise BadRequestError("changedSince must be YYYY-MM-DD")
    position = decode_cursor("c", params["cursor"]) if params.get("cursor") else 0
    order = campaign.contact_order
    results: list[dict[str, Any]] = []
    while position < len(order) and len(results) < limit:
        contact = campaign.contacts[order[position]]
        position += 1
        if not since or str(contact.get("$entry_date", ""))[:10] >= since:
            results.append({"id": contact["$id"], "md5": contact["$md5"]})
    cursor = encode_cursor("c", position) if position < len(order) else ""
    return {"count": len(results), "results": results, "cursor": cursor}


def fetch_contacts(
    campaign: Campaign, body: bytes, include_md5: bool = True
) -> list[dict[str, Any]]:
    """E3: full contacts (with ``$md5`` and ``$task_log``) for <= 20 ids; unknown ids skipped."""
    try:
        ids = json.loads(body or b"null")
    except ValueError as exc:
        raise BadRequestError("body must be a JSON array of contact ids") from exc
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        raise BadRequestError("body must be a JSON array of contact ids")
    if len(ids) > MAX_CONTACT_IDS:
        raise BadRequestError(f"at most {MAX_CONTACT_IDS} contact ids per request")
    found = [campaign.contacts[cid] for cid in ids if cid in campaign.contacts]
    if include_md5:
        return found
    return [{key: value for key, value in c.items() if key != "$md5"} for c in found]


def _event_matches(
    campaign: Campaign, event: TransactionEvent, tx_type: str, human: bool, prefixes: list[str]
) -> bool:
    transaction = campaign.transaction_at(event)
    if tx_type and transaction.get("type", tx_type) != tx_type:
        return False
    if human and not transaction.get("user"):
        return False
    task = transaction.get("task")
    return not (prefixes and isinstance(task, str) and not task.startswith(tuple(prefixes)))


def render_event(campaign: Campaign, event: TransactionEvent, fired_suffix: bool) -> str:
    """Return ``fired|md5|contactId|tlIdx,taIdx``; the suffix is the 4-digit sequence number."""
    transaction = campaign.transaction_at(event)
    fired = str(transaction.get("fired", ""))
    sequence_nr = transaction.get("sequence_nr")
    if fired_suffix and isinstance(sequence_nr, int):
        fired += f"{sequence_nr % 10000:04d}"
    return f"{fired}|{event.md5}|{event.contact_id}|{event.tl_idx},{event.ta_idx}"


def list_transactions(
    campaign: Campaign, params: Mapping[str, str], fired_suffix: bool = True
) -> dict[str, Any]:
    """E4: transaction events (creations and later updates) with from <= time <= to."""
    limit = parse_limit(params)
    start_ms = _parse_time(params, "from")
    if start_ms is None:
        raise BadRequestError("from is required")
    end_ms = _parse_time(params, "to")
    tx_type = params.get("type", "")
    human = params.get("hi", "").lower() == "true"
    prefixes = [item for item in params.get("tasks", "").split(",") if item]
    position = bisect.bisect_left(campaign.event_ms, start_ms)
    if params.get("cursor"):
        position = max(position, decode_cursor("t", params["cursor"]))
    results: list[str] = []
    total = len(campaign.events)
    while position < total and len(results) < limit:
        event = campaign.events[position]
        if end_ms is not None and event.at_ms > end_ms:
            total = position
            break
        position += 1
        if _event_matches(campaign, event, tx_type, human, prefixes):
            results.append(render_event(campaign, event, fired_suffix))
    more = position < total and (end_ms is None or campaign.event_ms[position] <= end_ms)
    cursor = encode_cursor("t", position) if more else ""
    return {"count": len(results), "results": results, "cursor": cursor}


def list_inbound_calls(campaign: Campaign, params: Mapping[str, str]) -> dict[str, Any]:
    """E5: inbound calls with from <= call_time <= to."""
    limit = parse_limit(params)
    start_ms = _parse_time(params, "from")
    if start_ms is None:
        raise BadRequestError("from is required")
    end_ms = _parse_time(params, "to")
    position = bisect.bisect_left(campaign.inbound_ms, start_ms)
    if params.get("cursor"):
        position = max(position, decode_cursor("i", params["cursor"]))
    stop = len(campaign.inbound_ms)
    if end_ms is not None:
        stop = bisect.bisect_right(campaign.inbound_ms, end_ms)
    page_end = min(stop, position + limit)
    results = campaign.inbound_calls[position:page_end]
    cursor = encode_cursor("i", page_end) if page_end < stop else ""
    return {"count": len(results), "results": results, "cursor": cursor}
