"""Keep the campaign alive: new contacts, new and updated transactions, new inbound calls."""

from __future__ import annotations

import random
import threading
from collections import Counter

from simulator.campaign import Campaign
from simulator.catalog import TASKS
from simulator.clock import parse_ts
from simulator.generator import DataGenerator, JsonDict
from simulator.history import build_contact_history

CHANGE_KINDS: tuple[str, ...] = (
    "new_contact",
    "new_transaction",
    "update_transaction",
    "new_inbound_call",
)
_WEIGHTS: tuple[int, ...] = (15, 40, 30, 15)


class ActivityGenerator:
    """Applies seeded random changes to a campaign, on demand or at ``rate`` changes per second."""

    def __init__(self, campaign: Campaign, seed: int | None = None, rate: float = 0.0) -> None:
        self.campaign = campaign
        self.rate = rate
        self._rng = random.Random(campaign.seed + 1 if seed is None else seed)
        self._gen = DataGenerator(self._rng, campaign.campaign_id, campaign.hostile)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.applied: Counter[str] = Counter()

    def apply_changes(self, count: int) -> dict[str, int]:
        """Apply ``count`` changes now and return how many of each kind were made."""
        made: Counter[str] = Counter()
        with self.campaign.lock:
            for _ in range(count):
                kind = self._rng.choices(CHANGE_KINDS, weights=_WEIGHTS)[0]
                made[self._apply_one(kind)] += 1
            self.applied.update(made)
        return dict(made)

    def start(self) -> None:
        """Start the background thread (a no-op when ``rate`` is not positive)."""
        if self.rate <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim-activity", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        interval = 1.0 / self.rate
        while not self._stop.wait(interval):
            self.apply_changes(1)

    def _apply_one(self, kind: str) -> str:
        campaign = self.campaign
        if not campaign.contact_order or kind == "new_contact":
            return self._add_contact()
        if kind == "new_inbound_call":
            at = campaign.next_change_ms()
            campaign.add_inbound_call(self._gen.make_inbound_call(at, campaign.contact_order))
            return kind
        if kind == "update_transaction" and self._update_transaction():
            return kind
        return self._add_transaction()

    def _add_contact(self) -> str:
        campaign = self.campaign
        at = campaign.next_change_ms()
        index = len(campaign.contact_order)
        history = build_contact_history(self._gen, index, at, at)
        history.contact["$version"] = 1
        contact_id = campaign.add_contact(history.contact)
        campaign.open_connections.extend(
            (contact_id, tl, ta) for tl, ta in history.open_connections
        )
        for _, tl_idx, ta_idx in history.changes:
            campaign.record_change(contact_id, at, tl_idx, ta_idx)
        return "new_contact"

    def _add_transaction(self) -> str:
        campaign = self.campaign
        rng = self._rng
        at = campaign.next_change_ms()
        contact_id = rng.choice(campaign.contact_order)
        contact = campaign.contacts[contact_id]
        task_log: list[JsonDict] = contact.setdefault("$task_log", [])
        if task_log and rng.random() < 0.7:
            tl_idx = rng.randrange(len(task_log))
            task = next(t for t in TASKS if t.task_id == task_log[tl_idx]["task_id"])
        else:
            task = rng.choice(TASKS)
            task_log.append(self._gen.make_task_entry(task, at))
            tl_idx = len(task_log) - 1
        entry = task_log[tl_idx]
        sequence_nr = 1 + sum(len(item["transactions"]) for item in task_log)
        tx = self._gen.make_transaction(task, at, sequence_nr, "update", str(contact["$phone"]))
        entry["transactions"].append(tx)
        ta_idx = len(entry["transactions"]) - 1
        if any("disconnected" not in conn for conn in tx["connections"]):
            campaign.open_connections.append((contact_id, tl_idx, ta_idx))
        entry["status"], entry["status_detail"] = tx["status"], tx["status_detail"]
        contact.update(
            {
                "$task": task.name,
                "$task_id": task.task_id,
                "$status": tx["status"],
                "$status_detail": tx["status_detail"],
            }
        )
        campaign.record_change(contact_id, at, tl_idx, ta_idx)
        return "new_transaction"

    def _update_transaction(self) -> bool:
        """Finish an in-progress call, or add a recording to a finished one; False if neither."""
        campaign = self.campaign
        rng = self._rng
        at = campaign.next_change_ms()
        if campaign.open_connections:
            pick = rng.randrange(len(campaign.open_connections))
            contact_id, tl_idx, ta_idx = campaign.open_connections.pop(pick)
            tx = campaign.contacts[contact_id]["$task_log"][tl_idx]["transactions"][ta_idx]
            for conn in tx["connections"]:
                if "disconnected" not in conn:
                    self._gen.finish_connection(conn, at)
            campaign.record_change(contact_id, at, tl_idx, ta_idx)
            return True
        for _ in range(10):
            contact_id = rng.choice(campaign.contact_order)
            for tl_idx, entry in enumerate(campaign.contacts[contact_id].get("$task_log", [])):
                for ta_idx, tx in enumerate(entry["transactions"]):
                    answered = [
                        c for c in tx["connections"] if c.get("connected") and "disconnected" in c
                    ]
                    if answered:
                        conn = answered[-1]
                        stopped = max(parse_ts(str(conn["disconnected"])), at - 1000)
                        self._gen.add_recording(conn, stopped - 60_000, stopped)
                        campaign.record_change(contact_id, at, tl_idx, ta_idx)
                        return True
        return False
