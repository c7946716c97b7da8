"""The SQL materializer's consumer loop: poll batches, apply them, ride out database outages.

Guarantees:
- Effectively once: on partition assignment the consumer seeks to the offsets stored in the
  target database (written in the same transaction as the rows), so a crash at any instant
  neither loses nor double-applies a batch. Kafka's committed offsets follow asynchronously after
  each database commit, for lag tooling only.
- Per-contact order: all events of a contact share a partition (key = contact id) and one
  consumer applies its partitions' batches sequentially: the writer thread (`write_pipeline`)
  holds at most one batch, and the next is handed over only after it committed. A revoke waits
  for the in-flight batch to commit.
- Outages: a retryable database error pauses every assigned partition (nothing new is fetched),
  keeps the batch in memory and retries it with capped exponential backoff and jitter while still
  calling poll() to stay in the group; the partitions resume as soon as the database answers.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from consumers.runtime.consumer_seam import SeekingConsumerLike, usable_messages
from consumers.runtime.envelope import Envelope, open_message
from consumers.runtime.outcomes import RetryableError
from consumers.sql.classify import describe_error, is_retryable
from consumers.sql.observer import SqlObserver
from consumers.sql.processor import BatchProcessor, BatchResult
from consumers.sql.progress import OFFSET_BEGINNING, PartitionProgress
from consumers.sql.write_pipeline import WritePipeline
from consumers.sql.writer import PreparedBatch

log = logging.getLogger(__name__)

# Backoff for outages: 0.5 s doubling to 10 s; 10 s keeps a long outage from hammering the
# database (one connection attempt per instance every 5-10 s) while noticing its return within
# seconds. Jitter (x 0.5-1) spreads the instances of a group.
BACKOFF_START_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 10.0


class SqlMaterializer:
    """Consumes one campaign's event topic into the SQL tables."""

    def __init__(
        self,
        consumer: SeekingConsumerLike,
        processor: BatchProcessor,
        read_offsets: Callable[[str], dict[int, int]],
        make_partition: Callable[..., Any],
        topic: str,
        batch_size: int,
        batch_wait_seconds: float,
        secret: str | None = None,
        cooperative: bool = True,
        observer: SqlObserver | None = None,
    ) -> None:
        self._consumer = consumer
        self._processor = processor
        self._pipeline = WritePipeline(self._write)
        self._read_offsets = read_offsets
        self._make_partition = make_partition
        self._topic = topic
        self._batch_size = batch_size
        self._batch_wait = batch_wait_seconds
        self._secret = secret
        self._cooperative = cooperative
        self._observer = observer or SqlObserver("sql")
        self._assigned: set[int] = set()
        self._progress = PartitionProgress(topic, make_partition)
        self._paused = False
        self._stop = threading.Event()
        self.caught_up = self._progress.caught_up
        self.events_applied = 0
        self.rows_written = 0
        self.dead_letters = 0

    # --- public, thread-safe views for the legacy CLI and tests ----------------------------------

    def positions(self) -> dict[int, int]:
        """Return the next offset committed to the database per partition (this instance)."""
        return self._progress.positions()

    def lag(self) -> dict[int, int]:
        """Return the last measured lag per assigned partition."""
        return self._progress.lag()

    def consumed_up_to(self, end_offsets: Mapping[int, int]) -> bool:
        """Return True once every partition's committed position reached its given end offset."""
        positions = self.positions()
        return all(end <= 0 or positions.get(p, 0) >= end for p, end in end_offsets.items())

    @property
    def paused(self) -> bool:
        """Whether consumption is paused because the database is unavailable."""
        return self._paused

    def wait_caught_up(self, timeout: float) -> bool:
        """Block until lag is 0 on every assigned partition (or `timeout`); return whether it is."""
        return self.caught_up.wait(timeout)

    # --- the loop --------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set; raise on a fatal error (DeadLetterLimitExceeded, ...)."""
        self._stop = stop
        self._consumer.subscribe(
            [self._topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        try:
            while not stop.is_set():
                # Poll, decode and render the next batch while the writer thread writes the
                # previous one; the writer only checks the rendering still fits.
                envelopes = self._next_batch()
                prepared = self._processor.prepare(envelopes) if envelopes else None
                self._finish_in_flight()
                envelopes = [e for e in envelopes if e.partition in self._assigned]
                if envelopes:
                    self.caught_up.clear()
                    self._pipeline.submit(envelopes, time.monotonic(), prepared)
                else:
                    self._progress.measure(self._consumer, self._assigned, self._paused)
                self._observer.maybe_refresh_lag(self._consumer)
            self._finish_in_flight()
        finally:
            self._pipeline.close()

    def _next_batch(self) -> list[Envelope]:
        """Poll one batch; a fatal client error raises, transient ones are logged and skipped."""
        messages = usable_messages(self._consumer.consume(self._batch_size, self._batch_wait))
        self._observer.polled()
        assigned = self._assigned
        envelopes = [open_message(m) for m in messages if m.partition() in assigned]
        self._observer.received(envelopes)
        return envelopes

    def _finish_in_flight(self) -> None:
        """Take the writer thread's batch; on an outage, retry it here until it commits."""
        batch = self._pipeline.take()
        if batch is None:
            return
        try:
            result = batch.future.result()
        except Exception as exc:
            if not (isinstance(exc, RetryableError) or is_retryable(exc)):
                raise
            error_class, message = describe_error(exc, self._secret)
            self._wait_out_outage(0, f"{error_class}: {message}")
            self._apply(batch.envelopes, batch.started, attempt=1)
            return
        self._record(batch.envelopes, result, batch.started)

    def _write(self, batch: list[Envelope], prepared: PreparedBatch | None = None) -> BatchResult:
        """Apply `batch` in one transaction; then publish its positions and counts (any thread,
        one at a time): they are true as soon as the database has the batch."""
        result = self._processor.process(batch, prepared)
        nexts: dict[int, int] = {}
        for env in batch:
            nexts[env.partition] = max(nexts.get(env.partition, 0), env.offset + 1)
        self.events_applied += result.events
        self.rows_written += result.rows
        self.dead_letters += result.dead_letters
        self._progress.advance(nexts)  # last: a caller that sees the position sees the counts
        return result

    def _apply(self, envelopes: list[Envelope], started: float, attempt: int) -> None:
        while not self._stop.is_set():
            batch = [e for e in envelopes if e.partition in self._assigned]
            if not batch:
                return
            try:
                result = self._write(batch)
            except Exception as exc:
                if not (isinstance(exc, RetryableError) or is_retryable(exc)):
                    raise
                error_class, message = describe_error(exc, self._secret)
                self._wait_out_outage(attempt, f"{error_class}: {message}")
                attempt += 1
                continue
            self._record(batch, result, started)
            return

    def _record(self, batch: list[Envelope], result: BatchResult, started: float) -> None:
        self._after_commit(batch)
        self._observer.committed(
            batch, result.events, result.dead_letters, time.monotonic() - started
        )

    def _after_commit(self, batch: list[Envelope]) -> None:
        if self._paused:
            self._consumer.resume(self._consumer.assignment())
            self._paused = False
            self._observer.paused(False)
            log.warning("database is back; resumed consuming")
        nexts: dict[int, int] = {}
        for env in batch:
            nexts[env.partition] = max(nexts.get(env.partition, 0), env.offset + 1)
        partitions = [
            self._make_partition(self._topic, p, o) for p, o in nexts.items() if p in self._assigned
        ]
        if not partitions:
            return
        try:
            self._consumer.commit(offsets=partitions, asynchronous=True)
        except Exception as exc:  # lag tooling only: the database holds the real offsets
            log.info("could not commit offsets to Kafka (the database has them): %s", exc)

    def _wait_out_outage(self, attempt: int, reason: str) -> None:
        self._observer.outage(reason)
        if not self._paused:
            self._consumer.pause(self._consumer.assignment())
            self._paused = True
            self._observer.paused(True)
        delay = min(BACKOFF_CAP_SECONDS, BACKOFF_START_SECONDS * 2**attempt)
        delay *= random.uniform(0.5, 1.0)
        log.warning("database unavailable (%s); paused, retrying in %.1f s", reason, delay)
        deadline = time.monotonic() + delay
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._poll_while_paused(min(remaining, 1.0))
            self._observer.maybe_refresh_lag(self._consumer)

    def _poll_while_paused(self, timeout: float) -> None:
        """Serve group membership; push back any message of a partition assigned meanwhile."""
        msg = self._consumer.poll(timeout)
        if msg is None or msg.error() is not None:
            return
        partition = self._make_partition(msg.topic(), msg.partition(), msg.offset())
        self._consumer.seek(partition)
        self._consumer.pause([partition])

    # --- rebalancing -----------------------------------------------------------------------------

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self._pipeline.settle()
        stored = self._stored_offsets()
        for tp in partitions:
            tp.offset = stored.get(tp.partition, OFFSET_BEGINNING)
        log.info(
            "assigned partitions %s; starting at stored offsets %s",
            sorted(tp.partition for tp in partitions),
            {tp.partition: tp.offset for tp in partitions},
        )
        if self._cooperative:
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)
        if self._paused:
            consumer.pause(partitions)
        self._assigned.update(tp.partition for tp in partitions)
        self._observer.assigned(self._topic, [tp.partition for tp in partitions], stored)
        self._progress.advance(
            {tp.partition: stored[tp.partition] for tp in partitions if tp.partition in stored}
        )
        self.caught_up.clear()

    def _stored_offsets(self) -> dict[int, int]:
        attempt = 0
        while True:
            try:
                return self._read_offsets(self._topic)
            except Exception as exc:
                if not is_retryable(exc) or self._stop.is_set():
                    raise
                error_class, message = describe_error(exc, self._secret)
                delay = min(BACKOFF_CAP_SECONDS, BACKOFF_START_SECONDS * 2**attempt)
                log.warning("cannot read stored offsets (%s: %s)", error_class, message)
                self._stop.wait(delay * random.uniform(0.5, 1.0))
                attempt += 1

    def _on_revoke(self, _consumer: Any, partitions: list[Any]) -> None:
        # The in-flight batch may hold events of these partitions: let it commit (rows and
        # offsets) before the partitions move, so their next owner starts after it.
        self._pipeline.settle()
        gone = {tp.partition for tp in partitions}
        self._assigned -= gone
        self._observer.revoked(self._topic, gone)
        self._progress.forget(gone)
        log.info("revoked partitions %s", sorted(gone))
