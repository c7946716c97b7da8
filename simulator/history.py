"""Lay out a generated contact's past: task entries, transactions and their change events."""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.catalog import TASKS, TaskDefinition
from simulator.clock import format_ts
from simulator.generator import DataGenerator, JsonDict

_DAY_MS = 86_400_000


@dataclass(slots=True)
class ContactHistory:
    """A contact plus the (time, task-log index, transaction index) of each of its changes."""

    contact: JsonDict
    changes: list[tuple[int, int, int]] = field(default_factory=list)
    open_connections: list[tuple[int, int]] = field(default_factory=list)


def build_contact_history(
    gen: DataGenerator, index: int, created_ms: int, end_ms: int, duplicate: str = ""
) -> ContactHistory:
    """Generate one contact with a task log ending no later than ``end_ms``.

    ``duplicate`` = ``"seq"`` or ``"noseq"`` adds a second transaction with the same ``fired`` as
    the first one (with, or without, a ``sequence_nr``) to exercise id collisions.
    """
    rng = gen.rng
    history = ContactHistory(gen.make_contact(index, created_ms))
    contact = history.contact
    task_log: list[JsonDict] = []
    at = created_ms
    seq = 0
    for tl_idx, task in enumerate(rng.sample(TASKS, rng.choice((1, 1, 2, 2, 3)))):
        if at > end_ms:
            break
        entry = gen.make_task_entry(task, at)
        task_log.append(entry)
        for _ in range(rng.choice((1, 1, 2, 3))):
            if at > end_ms:
                break
            seq += 1
            tx_type = "create" if seq == 1 else ("finish" if rng.random() < 0.07 else "update")
            _append_transaction(gen, history, entry, tl_idx, task, at, seq, tx_type, end_ms)
            if seq == 1 and duplicate:
                seq += 1
                twin = _append_transaction(
                    gen, history, entry, tl_idx, task, at, seq, "update", end_ms
                )
                if duplicate == "noseq":
                    twin.pop("sequence_nr", None)
            contact["$task"], contact["$task_id"] = task.name, task.task_id
            contact["$status"] = entry["status"]
            contact["$status_detail"] = entry["status_detail"]
            at += rng.randrange(600_000, 3 * _DAY_MS)
    contact["$task_log"] = task_log
    contact["$version"] = 1 + len(history.changes)
    if history.changes:
        contact["$entry_date"] = format_ts(max(change[0] for change in history.changes))
    return history


def _append_transaction(
    gen: DataGenerator,
    history: ContactHistory,
    entry: JsonDict,
    tl_idx: int,
    task: TaskDefinition,
    at: int,
    seq: int,
    tx_type: str,
    end_ms: int,
) -> JsonDict:
    rng = gen.rng
    tx = gen.make_transaction(task, at, seq, tx_type, history.contact["$phone"])
    if seq > 2 and rng.random() < 0.05:
        del tx["sequence_nr"]
    transactions: list[JsonDict] = entry["transactions"]
    transactions.append(tx)
    ta_idx = len(transactions) - 1
    history.changes.append((at, tl_idx, ta_idx))
    connections: list[JsonDict] = tx["connections"]
    if any("disconnected" not in conn for conn in connections):
        history.open_connections.append((tl_idx, ta_idx))
    elif connections and rng.random() < 0.3:
        # connection data that arrived after the transaction was first written
        history.changes.append((min(at + rng.randrange(30_000, 600_000), end_ms), tl_idx, ta_idx))
    entry["status"], entry["status_detail"] = tx["status"], tx["status_detail"]
    return tx
