"""Build synthetic Dialfire records: fields, contacts, transactions and inbound calls."""

from __future__ import annotations

import random
import string
from typing import Any

from simulator.catalog import DELETED_FIELD, INBOUND_TASK, TASKS, TaskDefinition
from simulator.clock import format_ts
from simulator.hostile import make_hostile_values

JsonDict = dict[str, Any]

_ID_ALPHABET = string.ascii_uppercase + string.digits
_STATUSES = ("open", "success", "declined", "failed")
_DETAILS = ("no_answer", "callback", "sale", "not_interested", "wrong_number", "voicemail")
_FIRST = ("Anna", "Ben", "Clara", "Deniz", "Emil", "Fatma", "Gert", "Hanna", "Ilse", "Jonas")
_LAST = ("Meyer", "Schulz", "Kaya", "Novak", "Fischer", "Weber", "Rossi", "Jansen")
_CITIES = ("Berlin", "Hamburg", "München", "Köln", "Leipzig", "Graz", "Zürich")
_PRODUCTS = ("basic", "plus", "premium")
_USERS = (
    ("anna.agent@acme.example", "anna.agent", "berlin"),
    ("bob.agent@acme.example", "bob.agent", "hamburg"),
    ("cem.agent@acme.example", "cem.agent", "berlin"),
    ("dora.agent@acme.example", "dora.agent", "remote"),
)


class DataGenerator:
    """Seeded factory for contacts, transactions, connections, recordings and inbound calls."""

    def __init__(self, rng: random.Random, campaign_id: str, hostile: bool) -> None:
        self.rng = rng
        self.campaign_id = campaign_id
        self.hostile = hostile

    def make_id(self) -> str:
        """Return a 16-character uppercase alphanumeric Dialfire-style id."""
        return "".join(self.rng.choices(_ID_ALPHABET, k=16))

    def make_uuid(self) -> str:
        """Return a random (seeded) UUID-formatted string."""
        raw = f"{self.rng.getrandbits(128):032x}"
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"

    def make_phone(self) -> str:
        """Return a German-looking E.164 phone number."""
        return f"+49{self.rng.randrange(30, 99)}{self.rng.randrange(1_000_000, 9_999_999)}"

    def make_contact(self, index: int, created_ms: int) -> JsonDict:
        """Return a contact without task log, md5 or version (the campaign fills those in)."""
        rng = self.rng
        task = rng.choice(TASKS)
        created = format_ts(created_ms)
        contact: JsonDict = {
            "$id": self.make_id(),
            "$ref": f"REF-{index:07d}",
            "$version": 1,
            "$campaign_id": self.campaign_id,
            "$task_id": task.task_id,
            "$task": task.name,
            "$status": "open",
            "$status_detail": "",
            "$created_date": created,
            "$entry_date": created,
            "$owner": rng.choice(_USERS)[0] if rng.random() < 0.3 else None,
            "$follow_up_date": format_ts(created_ms + 86_400_000) if rng.random() < 0.2 else None,
            "$phone": self.make_phone(),
            "$timezone": rng.choice(("Europe/Berlin", "Europe/Vienna", "Europe/Zurich")),
            "$caller_id": "+4930555000",
            "$source": rng.choice(("import", "api", "manual")),
            "$comment": "called twice;\nprefers mornings" if rng.random() < 0.2 else "",
            "$error": None,
            "$recording": None,
            "$recording_url": None,
            "firstname": rng.choice(_FIRST),
            "lastname": rng.choice(_LAST),
            "birthday": f"{rng.randrange(1940, 2005)}-{rng.randrange(1, 13):02d}-"
            f"{rng.randrange(1, 29):02d}",
            "appointment": format_ts(created_ms + rng.randrange(1, 30) * 86_400_000),
            "mobile": self.make_phone(),
            "gender": rng.choice(("m", "f", "d")),
            "product": rng.choice(_PRODUCTS),
            "city": rng.choice(_CITIES),
            "newsletter": rng.choice(("true", "false")),
            "revenue": rng.choice((12.5, 0, 99.99, 1250.25, 7)),
            "customer_number": 10_000_000_000 + index * 7919 + rng.randrange(1000),
            "notes": rng.choice(("", "VIP", "multi\nline\nnote")),
        }
        if rng.random() < 0.1:
            contact["notes"] = None
        if index % 7 == 3:
            contact[DELETED_FIELD] = rng.randrange(100)
        if index % 5 == 1:
            contact["$call_order"] = rng.randrange(1, 9)
            contact["x_crm_sync"] = {"source": "legacy", "ok": True}
        if self.hostile:
            contact.update(make_hostile_values(rng, index))
        return contact

    def make_task_entry(self, task: TaskDefinition, fired_ms: int) -> JsonDict:
        """Return an empty task-log entry for a task."""
        return {
            "status": "open",
            "status_detail": "",
            "fired": format_ts(fired_ms),
            "campaign_id": self.campaign_id,
            "task_id": task.task_id,
            "task_name": task.name,
            "task_title": task.title,
            "task_type": task.task_type,
            "task_hi": task.task_type != "ManualTask",
            "transactions": [],
        }

    def make_transaction(
        self, task: TaskDefinition, fired_ms: int, sequence_nr: int, tx_type: str, phone: str
    ) -> JsonDict:
        """Return a transaction; human ones may carry connections, some still in progress."""
        rng = self.rng
        human = rng.random() < 0.75
        status = rng.choice(_STATUSES)
        tx: JsonDict = {
            "fired": format_ts(fired_ms),
            "type": tx_type,
            "task_id": task.task_id,
            "task": task.name,
            "status": status,
            "status_detail": rng.choice(_DETAILS),
            "trigger": rng.choice(("call", "manual")) if human else rng.choice(("auto", "api")),
            "actor": "system",
            "result": rng.choice(("ok", "retry", "final")),
            "isHI": human,
            "revoked": rng.random() < 0.03,
            "pause_time_sec": rng.randrange(0, 60),
            "edit_time_sec": rng.randrange(0, 300),
            "wrapup_time_sec": rng.randrange(0, 120),
            "sequence_nr": sequence_nr,
            "data": {"$status": status, "notes": rng.choice(("", "VIP", "call back"))},
            "connections": [],
        }
        if human:
            user, login, branch = rng.choice(_USERS)
            tx.update(
                user=user,
                user_loginName=login,
                user_branch=branch,
                user_tenantAlias="acme",
                actor=user,
            )
            if rng.random() < 0.08:
                tx["status"], tx["status_detail"] = "open", "$assigned"
            if tx["trigger"] == "call":
                self._add_connections(tx, fired_ms, phone, user)
        if rng.random() < 0.1:
            tx["x_ai_score"] = round(rng.random(), 3)
        return tx

    def _add_connections(self, tx: JsonDict, fired_ms: int, phone: str, user: str) -> None:
        rng = self.rng
        first = self.make_connection(tx["task_id"], fired_ms, phone, user, "sip")
        tx["connections"].append(first)
        if rng.random() < 0.12 and "disconnected" in first:
            transfer = self.make_connection(
                tx["task_id"], fired_ms + 90_000, "+4930777000", user, "transfer"
            )
            transfer["transfer_target_address"] = "sip:backoffice@acme.example"
            tx["connections"].append(transfer)
        if rng.random() < 0.1 and "disconnected" in first:
            third = self.make_connection(
                tx["task_id"], fired_ms + 5_000, "+4930888000", user, "sip"
            )
            third["isThirdPartyConnection"] = True
            first["third_party_connections"] = [third]

    def make_connection(
        self, task_id: str, fired_ms: int, phone: str, user: str, technology: str
    ) -> JsonDict:
        """Return a connection; about 4 % are still in progress (no ``disconnected``)."""
        rng = self.rng
        answered = rng.random() < 0.7
        ts = format_ts
        conn: JsonDict = {
            "id": self.make_uuid(),
            "call_uuid": self.make_uuid(),
            "global_call_uuid": self.make_uuid(),
            "task_id": task_id,
            "phone": phone,
            "user": user,
            "actor": user,
            "dialerdomain": "dialer-eu-1.acme.example",
            "fired": ts(fired_ms),
            "started": ts(fired_ms + 200),
            "initiated": ts(fired_ms + 300),
            "connected": ts(fired_ms + 8_000) if answered else None,
            "remote_number": phone,
            "line_number": "+4930555000",
            "technology": technology,
            "result": "connected" if answered else rng.choice(("no_answer", "busy")),
            "code": 200 if answered else rng.choice((480, 486)),
            "call_initiated": ts(fired_ms + 300),
            "call_connected": ts(fired_ms + 8_000) if answered else None,
        }
        if rng.random() < 0.15:
            conn["x_codec"] = rng.choice(("opus", "g711"))
        if rng.random() >= 0.04:
            self.finish_connection(conn, fired_ms + rng.randrange(10_000, 600_000))
        return conn

    def finish_connection(self, conn: JsonDict, end_ms: int) -> None:
        """Add the hang-up data (and maybe a recording) that arrives when a call ends."""
        rng = self.rng
        started_ms = end_ms - rng.randrange(5_000, 300_000)
        conn["disconnected"] = format_ts(end_ms)
        conn["ended"] = format_ts(end_ms + 500)
        conn["call_disconnected"] = format_ts(end_ms)
        conn["duration"] = max(0, (end_ms - started_ms) // 1000)
        conn["hangup_party"] = rng.choice(("A", "B"))
        if conn.get("connected") and rng.random() < 0.5:
            self.add_recording(conn, started_ms, end_ms)

    def add_recording(self, conn: JsonDict, started_ms: int, stopped_ms: int) -> None:
        """Append a recording to a connection; about 20 % have no ``location``."""
        name = f"{conn['call_uuid']}-{len(conn.get('recordings', [])) + 1}.mp3"
        recording: JsonDict = {
            "started": format_ts(started_ms),
            "stopped": format_ts(stopped_ms),
            "filename": name,
        }
        if self.rng.random() >= 0.2:
            recording["location"] = f"https://recordings.acme.example/{self.campaign_id}/{name}"
        conn.setdefault("recordings", []).append(recording)

    def make_inbound_call(self, call_ms: int, contact_ids: list[str]) -> JsonDict:
        """Return an inbound call; about a quarter have no known contact."""
        rng = self.rng
        answered = rng.random() < 0.75
        user = rng.choice(_USERS)[0] if answered else None
        connect_ms = call_ms + rng.randrange(2_000, 40_000)
        hangup_ms = connect_ms + rng.randrange(10_000, 600_000)
        known = contact_ids and rng.random() < 0.75
        return {
            "id": self.make_uuid().replace("-", ""),
            "line_id": f"L{rng.randrange(1, 4)}",
            "campaign_id": self.campaign_id,
            "task_id": INBOUND_TASK.task_id,
            "task_name": INBOUND_TASK.name,
            "contact_id": rng.choice(contact_ids) if known else None,
            "calling_number": self.make_phone(),
            "called_number": "+4930555111",
            "call_time": format_ts(call_ms),
            "connect_time": format_ts(connect_ms) if answered else None,
            "hangup_time": format_ts(hangup_ms),
            "user": user,
            "state": "done" if answered else "abandoned",
            "connectable_time": format_ts(call_ms + 1_000),
            "disposition": "answered" if answered else rng.choice(("abandoned", "voicemail")),
            "dispatch_error": rng.random() < 0.05,
            "x_wait_ms": rng.randrange(0, 40_000),
        }
