"""Run the producer's cycles: initial load, since-a-date, polling and md5 reconciliation.

Guarantees: events of one contact are published snapshot first, then in task-log order; state
(fingerprints, md5s, versions, checkpoint) is committed only after Kafka confirmed the events it
covers, chunk by chunk; the checkpoint (low-water mark) moves only when a whole cycle succeeded, so
a failed, stopped or crashed cycle is simply covered again by the next one (fixes W2, W3, W8, W9).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, Protocol

from producer.clock import Clock, format_query_time
from producer.dialfire.errors import DialfireAuthError, DialfireError
from producer.dialfire.shapes import ContactMd5, TransactionEventRef
from producer.event_builder import (
    ContactChanges,
    EventBuilder,
    VersionAllocator,
    iter_transactions,
    transaction_ids_of,
)
from producer.fetching import fetch_contacts_pipelined
from producer.publisher import EventPublisher, PublishError
from producer.settings import ProducerSettings
from producer.state import StateStore, StateUpdate
from schemas.events import event_type_name

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]
BEGINNING = "1970-01-01T00:00:00"  # E5 needs a `from`; the original sent an empty one


class DialfireApi(Protocol):
    """The Dialfire calls the producer makes (see producer.dialfire.DialfireClient)."""

    def iter_contact_md5s(self, changed_since: str | None = None) -> Iterator[list[ContactMd5]]:
        """E2 pages."""
        ...

    def fetch_contacts(self, contact_ids: list[str]) -> list[JsonDict]:
        """E3."""
        ...

    def iter_transaction_events(
        self, start: str, end: str | None, filters: dict[str, str]
    ) -> Iterator[list[TransactionEventRef]]:
        """E4 pages."""
        ...

    def iter_inbound_calls(self, start: str, end: str | None) -> Iterator[list[JsonDict]]:
        """E5 pages."""
        ...


class CycleObserver(Protocol):
    """Told how many events Kafka acknowledged, and whether each run or cycle succeeded."""

    def produced(self, count: int) -> None: ...
    def cycle_finished(self, succeeded: bool) -> None: ...


class CycleAbandonedError(Exception):
    """A stop was requested; the cycle ended after its last confirmed chunk."""


@dataclass
class SyncReport:
    """What one run or cycle published (confirmed events only)."""

    kind: str
    published: Counter[str] = field(default_factory=Counter)
    contacts_fetched: int = 0
    completed: bool = False

    @property
    def total(self) -> int:
        """All confirmed events."""
        return sum(self.published.values())


class Producer:
    """Publishes one campaign's changes; the programmatic API the service and legacy runner use."""

    def __init__(
        self,
        settings: ProducerSettings,
        api: DialfireApi,
        publisher: EventPublisher,
        state: StateStore,
        clock: Clock,
    ) -> None:
        """Wire the producer; nothing is called until a `run_*` method runs."""
        self.settings = settings
        self.api = api
        self.publisher = publisher
        self.state = state
        self.clock = clock
        self.versions = VersionAllocator(state.last_version())
        self.builder = EventBuilder(
            settings.campaign_id, settings.transaction_filter, self.versions, clock
        )
        self.failed_cycles = 0
        self.stop_event = threading.Event()
        self.observer: CycleObserver | None = None
        # Seconds spent per step on the calling thread (logs and the benchmark).
        self.timings: defaultdict[str, float] = defaultdict(float)

    # --- public runs ------------------------------------------------------------------

    def run_initial_load(self) -> SyncReport:
        """Full load: every contact by md5 compare, then every inbound call; sets the checkpoint."""
        report = SyncReport("initial")
        started = self.clock.now()
        self._sync_contacts(self._changed_contact_ids(None), report)
        self._sync_inbound(BEGINNING, format_query_time(started), report)
        return self._finish(report, StateUpdate(checkpoint=started, last_reconcile=started))

    def run_since(self, since: datetime) -> SyncReport:
        """Everything changed since `since`: E2 changedSince + E4/E5 from `since` to now."""
        report = SyncReport("since")
        started = self.clock.now()
        start, end = format_query_time(since), format_query_time(started)
        ids = chain(self._changed_contact_ids(start[:10]), self._event_contact_ids(start, end))
        self._sync_contacts(ids, report)
        self._sync_inbound(start, end, report)
        return self._finish(report, StateUpdate(checkpoint=started))

    def run_poll_cycle(self) -> SyncReport:
        """One poll over [checkpoint − overlap, now] (E4 + E5); moves the checkpoint to now."""
        checkpoint = self.state.checkpoint()
        if checkpoint is None:
            raise RuntimeError("no checkpoint yet: run an initial load or a since-run first")
        report = SyncReport("poll")
        end_at = self.clock.now()
        start = format_query_time(checkpoint - self.settings.overlap)
        end = format_query_time(end_at)
        self._sync_contacts(self._event_contact_ids(start, end), report)
        self._sync_inbound(start, end, report)
        return self._finish(report, StateUpdate(checkpoint=end_at))

    def run_reconciliation(self) -> SyncReport:
        """The safety net: md5-compare every contact, re-read recent inbound calls."""
        report = SyncReport("reconcile")
        started = self.clock.now()
        self._sync_contacts(self._changed_contact_ids(None), report)
        window = self.settings.reconcile_interval + self.settings.overlap
        self._sync_inbound(format_query_time(started - window), format_query_time(started), report)
        return self._finish(report, StateUpdate(last_reconcile=started))

    def run_cycle(self) -> SyncReport:
        """Run whatever is due: the first load, a reconciliation, or a poll."""
        if self.state.checkpoint() is None:
            if self.settings.since is not None:
                return self.run_since(self.settings.since)
            return self.run_initial_load()
        last = self.state.last_reconcile()
        if last is None or self.clock.now() - last >= self.settings.reconcile_interval:
            self.run_reconciliation()
        return self.run_poll_cycle()

    def run_continuous(self, stop_event: threading.Event | None = None) -> None:
        """Run cycles every `interval` until `stop_event` is set.

        A Dialfire or Kafka failure fails one cycle (logged, counted); the next cycle covers the
        same window again. Only an auth error (401/403) ends the loop, by raising.
        """
        if stop_event is not None:
            self.stop_event = stop_event
        stop = self.stop_event
        while not stop.is_set():
            began = self.clock.monotonic()
            try:
                report = self.run_cycle()
                log.info(
                    "%s cycle: %d event(s) %s, %d contact(s) fetched%s",
                    report.kind, report.total, dict(report.published), report.contacts_fetched,
                    "" if report.completed else " (stopped early)",
                )  # fmt: skip
            except DialfireAuthError:
                raise
            except (DialfireError, PublishError) as exc:
                self.failed_cycles += 1
                if self.observer is not None:
                    self.observer.cycle_finished(False)
                log.error("cycle failed, retrying next interval: %s", exc)
            elapsed = self.clock.monotonic() - began
            stop.wait(max(0.0, self.settings.interval.total_seconds() - elapsed))

    # --- steps ------------------------------------------------------------------

    def _finish(self, report: SyncReport, update: StateUpdate) -> SyncReport:
        if not self.stop_event.is_set():
            self.state.commit(update)
            report.completed = True
            if self.observer is not None:
                self.observer.cycle_finished(True)
        return report

    def _check_stop(self) -> None:
        if self.stop_event.is_set():
            raise CycleAbandonedError

    def _changed_contact_ids(self, changed_since: str | None) -> Iterator[str]:
        for page in self.api.iter_contact_md5s(changed_since):
            self._check_stop()
            stored = self.state.contact_md5s([row.contact_id for row in page])
            yield from (row.contact_id for row in page if stored.get(row.contact_id) != row.md5)

    def _event_contact_ids(self, start: str, end: str) -> Iterator[str]:
        """Contacts with events in [start, end], minus those every event shows as already known."""
        md5s: dict[str, set[str]] = {}
        params = self.settings.transaction_filter.query_params()
        for page in self.api.iter_transaction_events(start, end, params):
            self._check_stop()
            for ref in page:
                md5s.setdefault(ref.contact_id, set()).add(ref.md5)
        stored = self.state.contact_md5s(list(md5s))
        yield from (cid for cid, seen in md5s.items() if seen != {stored.get(cid)})

    def _sync_contacts(self, contact_ids: Iterable[str], report: SyncReport) -> None:
        try:
            chunk: list[JsonDict] = []
            fetched = fetch_contacts_pipelined(self.api, contact_ids, self.settings.fetch_in_flight)
            while True:
                began = self.clock.monotonic()
                contacts = next(fetched, None)
                self.timings["fetch_wait"] += self.clock.monotonic() - began
                if contacts is None:
                    break
                chunk.extend(contacts)
                if len(chunk) >= self.settings.chunk_contacts:
                    self._publish_contacts(chunk, report)
                    chunk = []
                    self._check_stop()
            self._publish_contacts(chunk, report)
        except CycleAbandonedError:
            log.info("stop requested: cycle abandoned after its last confirmed chunk")

    def _publish_contacts(self, contacts: list[JsonDict], report: SyncReport) -> None:
        if not contacts:
            return
        report.contacts_fetched += len(contacts)
        began = self.clock.monotonic()
        stored_md5 = self.state.contact_md5s([str(c["$id"]) for c in contacts])
        tx_ids = [
            tid for c in contacts for tid in transaction_ids_of(str(c["$id"]), iter_transactions(c))
        ]
        stored_fps = self.state.transaction_fingerprints(tx_ids)
        self.timings["state_lookup"] += self.clock.monotonic() - began
        self._publish_all(
            (
                self.builder.build_contact(c, stored_md5.get(str(c["$id"])), stored_fps)
                for c in contacts
            ),
            report,
        )

    def _sync_inbound(self, start: str, end: str, report: SyncReport) -> None:
        if self.stop_event.is_set():
            return
        for calls in self.api.iter_inbound_calls(start, end):
            stored = self.state.inbound_fingerprints([str(c["id"]) for c in calls])
            self._publish_all(
                (self.builder.build_inbound_call(c, stored.get(str(c["id"]))) for c in calls),
                report,
            )
            if self.stop_event.is_set():
                return

    def _publish_all(self, changes: Iterable[ContactChanges], report: SyncReport) -> None:
        """Publish, confirm, then commit; on an error mid-way, commit what Kafka confirmed."""
        done = StateUpdate()
        counts: Counter[str] = Counter()
        began = self.clock.monotonic()
        try:
            for change in changes:
                for event in change.events:
                    self.publisher.publish(event)
                    counts[event_type_name(event)] += 1
                done.merge(change.update)
        finally:
            confirming = self.clock.monotonic()
            self.timings["build_and_publish"] += confirming - began
            self.publisher.confirm()
            if self.observer is not None and counts:
                self.observer.produced(sum(counts.values()))
            committing = self.clock.monotonic()
            self.timings["confirm"] += committing - confirming
            done.last_version = self.versions.last_issued
            self.state.commit(done)
            self.timings["commit"] += self.clock.monotonic() - committing
            report.published.update(counts)
