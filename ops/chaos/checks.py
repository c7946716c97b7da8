"""Wait until the pipeline is quiet, then check everything against the simulator's ground truth."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from ops.chaos.kafka_probe import behind, committed_offsets, end_offsets, read_topic
from ops.chaos.stack import SQL_GROUPS, TOKEN, WEBHOOK_GROUP, Stack
from ops.sql_offsets import SqlOffsetStore
from ops.truth.compare import compare_database
from ops.truth.oracle import expected_rows, fetch_truth, transaction_count
from schemas import headers as h
from schemas.topics import dead_letter_topic


def lags(stack: Stack) -> dict[str, int]:
    """Messages each consumer group still has to finish (SQL offsets live in the database)."""
    ends = end_offsets(stack.bootstrap, stack.topic)
    out: dict[str, int] = {}
    for kind, database in stack.databases.items():
        engine = database.engine()
        try:
            done = SqlOffsetStore(engine, "", SQL_GROUPS[kind], stack.topic).read()
        finally:
            engine.dispose()
        out[f"sql_{kind}"] = behind(ends, done)
    if stack.receiver is not None:
        group = f"dbsync2.{stack.campaign}.{WEBHOOK_GROUP}"
        out["webhook"] = behind(ends, committed_offsets(stack.bootstrap, group, stack.topic))
    return out


def wait_quiet(stack: Stack, last_change_s: float, timeout: float) -> dict[str, Any]:
    """Wait until the producer's checkpoint passed the last change and every lag is 0.

    Returns what it observed; raises TimeoutError (with the lags) when `timeout` runs out.
    """
    began = time.monotonic()
    deadline = began + timeout
    target_us = int((last_change_s + 1.0) * 1_000_000)
    while stack.producer_checkpoint_us() < target_us:
        if time.monotonic() > deadline:
            raise TimeoutError("producer checkpoint never passed the last change")
        time.sleep(0.5)
    producer_s = time.monotonic() - began
    last: dict[str, int] = {}
    stable = 0
    ends_before: dict[int, int] = {}
    while True:
        try:
            ends = end_offsets(stack.bootstrap, stack.topic)
            last = lags(stack)
        except Exception as exc:
            last = {"probe_error": 1}
            print(f"chaos: lag probe failed: {exc}", flush=True)
        if last and all(v == 0 for v in last.values()) and ends == ends_before:
            stable += 1
            if stable >= 2:
                break
        else:
            stable = 0
        ends_before = ends
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumers not caught up: lag {last}")
        time.sleep(1.0)
    return {"producer_caught_up_s": round(producer_s, 1),
            "quiet_after_s": round(time.monotonic() - began, 1)}  # fmt: skip


def _dead_letters(stack: Stack, group: str) -> tuple[set[str], Counter[str], int]:
    """Event ids, reasons (error class) and count in one group's DLQ; every letter has a reason."""
    ids: set[str] = set()
    reasons: Counter[str] = Counter()
    count = 0
    for msg in read_topic(stack.bootstrap, dead_letter_topic(stack.campaign, group)):
        count += 1
        reason = msg.headers.get(h.DLQ_ERROR_CLASS, "")
        reasons[reason or "NO REASON"] += 1
        if not msg.headers.get(h.DLQ_ERROR_MESSAGE):
            reasons["NO MESSAGE"] += 1
        if h.EVENT_ID in msg.headers:
            ids.add(msg.headers[h.EVENT_ID])
    return ids, reasons, count


def verify(stack: Stack) -> dict[str, Any]:
    """Compare SQL tables, webhook deliveries and dead letters with the truth and the topic."""
    truth = fetch_truth(stack.sim_url, TOKEN)
    expected = expected_rows(truth)
    result: dict[str, Any] = {
        "truth": {
            "contacts": len(truth.get("contacts") or []),
            "transactions": transaction_count(truth),
            "inbound_calls": len(truth.get("inbound_calls") or []),
            "expected_rows": sum(len(rows) for rows in expected.values()),
        }
    }
    kinds: Counter[str] = Counter()
    transaction_ids: set[str] = set()
    for msg in read_topic(stack.bootstrap, stack.topic):
        kind = msg.headers.get(h.EVENT_TYPE, "unknown")
        kinds[kind] += 1
        if kind == "transaction":
            transaction_ids.add(msg.headers.get(h.EVENT_ID, ""))
    result["events"] = {"total": sum(kinds.values()), **dict(kinds)}
    mismatches = 0
    rows = 0
    sql: dict[str, Any] = {}
    for kind, database in stack.databases.items():
        engine = database.engine()
        try:
            report = compare_database(engine, expected)
        finally:
            engine.dispose()
        _, reasons, dlq = _dead_letters(stack, SQL_GROUPS[kind])
        sql[kind] = {"rows_compared": report.rows_compared, "missing": report.missing,
                     "unexpected": report.unexpected, "duplicates": report.duplicates,
                     "stale_or_wrong": report.stale_or_wrong, "mismatches": report.mismatches,
                     "dead_letters": dlq, "dead_letter_reasons": dict(reasons),
                     "examples": report.examples}  # fmt: skip
        mismatches += report.mismatches
        rows += report.rows_compared
    result["sql"] = sql
    result["rows_compared"] = rows
    result["mismatches"] = mismatches
    if stack.receiver is not None:
        deliveries = stack.receiver.deliveries()
        delivered = {key for key, d in deliveries.items() if d.accepted > 0}
        dlq_ids, reasons, dlq = _dead_letters(stack, WEBHOOK_GROUP)
        lost = transaction_ids - delivered - dlq_ids
        result["webhook"] = {
            "transaction_events": len(transaction_ids),
            "delivered": len(transaction_ids & delivered),
            "duplicate_deliveries": sum(max(d.accepted - 1, 0) for d in deliveries.values()),
            "attempts": sum(d.attempts for d in deliveries.values()),
            "answers": stack.receiver.answers(),
            "dead_letters": dlq,
            "dead_letter_reasons": dict(reasons),
            "lost": len(lost),
            "lost_examples": sorted(lost)[:5],
            "unknown_ids_received": len(delivered - transaction_ids),
        }
    result["dead_letters"] = sum(v["dead_letters"] for v in sql.values()) + (
        result.get("webhook", {}).get("dead_letters", 0)
    )
    result["lost"] = result.get("webhook", {}).get("lost", 0) + sum(
        v["missing"] for v in sql.values()
    )
    result["ok"] = mismatches == 0 and result["lost"] == 0
    return result
