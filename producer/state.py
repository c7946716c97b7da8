"""The producer's durable state: checkpoint, fingerprints and last version, in one SQLite file.

Guarantee: `commit` writes everything of one confirmed batch in a single SQLite transaction, and
callers only commit after Kafka acknowledged every event the batch covers. A crash before the
commit leaves the old state, so the next run re-publishes (same event ids) instead of skipping.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from producer.clock import from_micros, to_micros

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    campaign TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (campaign, name));
CREATE TABLE IF NOT EXISTS contacts (
    campaign TEXT NOT NULL, contact_id TEXT NOT NULL, md5 TEXT NOT NULL,
    PRIMARY KEY (campaign, contact_id));
CREATE TABLE IF NOT EXISTS transactions (
    campaign TEXT NOT NULL, transaction_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    PRIMARY KEY (campaign, transaction_id));
CREATE TABLE IF NOT EXISTS inbound_calls (
    campaign TEXT NOT NULL, call_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    PRIMARY KEY (campaign, call_id));
"""
_TABLES = {
    "contacts": ("contact_id", "md5"),
    "transactions": ("transaction_id", "fingerprint"),
    "inbound_calls": ("call_id", "fingerprint"),
}
# SQLite allows 32766 bound parameters per statement; stay far below it.
_LOOKUP_CHUNK = 900


@dataclass
class StateUpdate:
    """Everything one confirmed batch changes; applied atomically by `StateStore.commit`."""

    contact_md5s: dict[str, str] = field(default_factory=dict)
    transaction_fingerprints: dict[str, str] = field(default_factory=dict)
    inbound_fingerprints: dict[str, str] = field(default_factory=dict)
    last_version: int | None = None
    checkpoint: datetime | None = None
    last_reconcile: datetime | None = None

    def merge(self, other: StateUpdate) -> None:
        """Add `other`'s changes to this update."""
        self.contact_md5s.update(other.contact_md5s)
        self.transaction_fingerprints.update(other.transaction_fingerprints)
        self.inbound_fingerprints.update(other.inbound_fingerprints)
        for name in ("last_version", "checkpoint", "last_reconcile"):
            if getattr(other, name) is not None:
                setattr(self, name, getattr(other, name))

    @property
    def empty(self) -> bool:
        """Whether committing this would change nothing."""
        return not (
            self.contact_md5s
            or self.transaction_fingerprints
            or self.inbound_fingerprints
            or self.last_version is not None
            or self.checkpoint is not None
            or self.last_reconcile is not None
        )


def state_file_name(campaign_id: str) -> str:
    """Return the state file name of a campaign (unsafe characters replaced by '_')."""
    return "producer-" + re.sub(r"[^A-Za-z0-9._-]", "_", campaign_id) + ".sqlite3"


class StateStore:
    """Per-campaign producer state in SQLite (stdlib `sqlite3`, WAL journal)."""

    def __init__(self, path: Path, campaign_id: str) -> None:
        """Open (and create if missing) the state file at `path`."""
        self.path = path
        self.campaign_id = campaign_id
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "PRAGMA synchronous=FULL"
        )  # a commit survives a power cut, not only a crash
        self._db.executescript(_SCHEMA)

    @classmethod
    def open_in(cls, state_dir: Path, campaign_id: str) -> StateStore:
        """Open the campaign's state file inside `state_dir`."""
        return cls(state_dir / state_file_name(campaign_id), campaign_id)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # --- reads ------------------------------------------------------------------

    def _meta(self, name: str) -> int | None:
        row = self._db.execute(
            "SELECT value FROM meta WHERE campaign = ? AND name = ?", (self.campaign_id, name)
        ).fetchone()
        return None if row is None else int(row[0])

    def checkpoint(self) -> datetime | None:
        """Return the low-water mark: everything before it was published and confirmed."""
        value = self._meta("checkpoint_us")
        return None if value is None else from_micros(value)

    def last_version(self) -> int:
        """Return the highest event version confirmed so far (0 when none)."""
        return self._meta("last_version") or 0

    def last_reconcile(self) -> datetime | None:
        """Return when the last md5 reconciliation completed."""
        value = self._meta("last_reconcile_us")
        return None if value is None else from_micros(value)

    def contact_md5s(self, contact_ids: Sequence[str]) -> dict[str, str]:
        """Return the stored md5 of each known contact among `contact_ids`."""
        return self._lookup("contacts", contact_ids)

    def transaction_fingerprints(self, transaction_ids: Sequence[str]) -> dict[str, str]:
        """Return the stored fingerprint of each known transaction among `transaction_ids`."""
        return self._lookup("transactions", transaction_ids)

    def inbound_fingerprints(self, call_ids: Sequence[str]) -> dict[str, str]:
        """Return the stored fingerprint of each known inbound call among `call_ids`."""
        return self._lookup("inbound_calls", call_ids)

    def counts(self) -> dict[str, int]:
        """Return how many contacts, transactions and inbound calls are known."""
        return {
            table: int(
                self._db.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE campaign = ?", (self.campaign_id,)
                ).fetchone()[0]
            )
            for table in _TABLES
        }

    def _lookup(self, table: str, keys: Sequence[str]) -> dict[str, str]:
        key_col, value_col = _TABLES[table]
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT {key_col}, {value_col} FROM {table} "
                f"WHERE campaign = ? AND {key_col} IN ({marks})",
                (self.campaign_id, *chunk),
            )
            found.update({str(k): str(v) for k, v in rows})
        return found

    # --- the one write ------------------------------------------------------------------

    def commit(self, update: StateUpdate) -> None:
        """Apply `update` in one transaction (call only after Kafka confirmed what it covers)."""
        if update.empty:
            return
        cid = self.campaign_id
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for table, values in (
                ("contacts", update.contact_md5s),
                ("transactions", update.transaction_fingerprints),
                ("inbound_calls", update.inbound_fingerprints),
            ):
                self._upsert(table, values.items())
            meta: list[tuple[str, int]] = []
            if update.last_version is not None:
                meta.append(("last_version", max(update.last_version, self.last_version())))
            if update.checkpoint is not None:
                meta.append(("checkpoint_us", to_micros(update.checkpoint)))
            if update.last_reconcile is not None:
                meta.append(("last_reconcile_us", to_micros(update.last_reconcile)))
            db.executemany(
                "INSERT INTO meta (campaign, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (campaign, name) DO UPDATE SET value = excluded.value",
                [(cid, name, value) for name, value in meta],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _upsert(self, table: str, rows: Iterable[tuple[str, str]]) -> None:
        key_col, value_col = _TABLES[table]
        self._db.executemany(
            f"INSERT INTO {table} (campaign, {key_col}, {value_col}) VALUES (?, ?, ?) "
            f"ON CONFLICT (campaign, {key_col}) DO UPDATE SET {value_col} = excluded.{value_col}",
            [(self.campaign_id, key, value) for key, value in rows],
        )
