"""Relay a campaign's transaction events to one web service as a Kafka consumer group.

Guarantees:
- at-least-once: an offset is committed only when it and every earlier offset of its partition
  is delivered, dead-lettered (dead letters flushed first) or skipped; a crash or a lost
  partition redelivers the rest, under the same idempotency id (the event id);
- strict order per contact (see scheduler.py), contacts concurrently up to `in_flight`;
- at most `max_attempts` counted attempts per event, then the group's dead-letter topic;
- an endpoint outage opens the circuit breaker (breaker.py): consumption pauses, one probe at a
  time, nothing is dead-lettered for it, and the relay resumes by itself;
- bounded memory: intake stops while more than `max_buffered` events or `max_buffered_bytes`
  payload bytes are consumed but unfinished, and starts again below half of both (intake.py).

Threads: this loop owns every piece of state and the Kafka consumer; worker threads only make
single HTTP attempts and hand the results back through a queue; settle.py decides what a result
means for its event, intake.py how much may be taken from Kafka.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, TopicPartition

from consumers.runtime.dead_letter import DeadLetterLimit, DeadLetterPublisher
from consumers.runtime.envelope import open_message
from consumers.webhook.attempts import AttemptPool
from consumers.webhook.backoff import RetryPolicy
from consumers.webhook.breaker import CircuitBreaker, ProbeSchedule
from consumers.webhook.intake import IntakeGovernor
from consumers.webhook.observer import RelayObserver
from consumers.webhook.partitions import KafkaConsumerLike, PartitionGate
from consumers.webhook.rate_limit import TokenBucket
from consumers.webhook.scheduler import ContactScheduler, PendingEvent, payload_size
from consumers.webhook.sender import WebhookSender
from consumers.webhook.settings import RelaySettings, RelayStats
from consumers.webhook.settle import EventSettler
from schemas import TransactionEvent

log = logging.getLogger(__name__)
__all__ = ["KafkaConsumerLike", "RelaySettings", "RelayStats", "WebhookRelay"]


class WebhookRelay:
    """The relay loop; build it in service.py, then `run(stop_event)` (in any one thread)."""

    def __init__(
        self,
        consumer: KafkaConsumerLike,
        topic: str,
        sender: WebhookSender,
        dead_letters: DeadLetterPublisher,
        policy: RetryPolicy,
        settings: RelaySettings,
        bucket: TokenBucket | None = None,
        breaker: CircuitBreaker[PendingEvent] | None = None,
        dead_letter_limit: DeadLetterLimit | None = None,
        clock: Callable[[], float] = time.monotonic,
        observer: RelayObserver | None = None,
    ) -> None:
        self._gate = PartitionGate(consumer, topic, dead_letters)
        self._topic = topic
        self._settings = settings
        self._bucket = bucket
        self._breaker = breaker or CircuitBreaker()
        self._clock = clock
        self._observer = observer or RelayObserver("webhook", "")
        self._probes = ProbeSchedule(policy.probe_delay, self._observer.breaker)
        self._scheduler = ContactScheduler()
        self._pool = AttemptPool(sender, settings.in_flight)
        self._seq = itertools.count()
        self._next_commit_at = 0.0
        self._next_catch_up_check = 0.0
        self._wake_at = 0.0
        self.stats = RelayStats()
        self.caught_up = threading.Event()
        self._settler = EventSettler(
            self._gate, self._scheduler, dead_letters, policy, settings, self._breaker,
            self._probes, dead_letter_limit, clock, self._observer, self.stats,
        )  # fmt: skip
        self._handle_result = self._settler.handle_result
        self._intake = IntakeGovernor(settings, self._scheduler, self.stats, self._observer, clock)

    # --- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set; then finish in-flight requests, flush, commit and close."""
        self._gate.consumer.subscribe(
            [self._topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        try:
            while not stop.is_set():
                self._step()
        finally:
            self._shutdown()

    def wait_caught_up(self, timeout: float) -> bool:
        """Wait until everything up to the partitions' ends is handled; False on timeout."""
        return self.caught_up.wait(timeout)

    def _step(self) -> None:
        busy = self._pool.in_flight > 0 or len(self._scheduler) > 0
        # consume() waits for a full batch or the whole timeout, so it is only called without
        # waiting; an idle relay waits in poll(), which returns at the first message.
        messages = [] if busy else [self._gate.consumer.poll(self._settings.idle_poll_s)]
        messages = [m for m in messages if m is not None]
        for message in messages:  # first, so that `batch_size` knows its size
            self._ingest(message)
        batch = []
        if self._intake.may_consume(self._gate):
            batch = self._gate.consumer.consume(self._intake.batch_size(), timeout=0)
        self._observer.polled()
        for message in batch:
            self._ingest(message)
        messages += batch
        self._intake.update(self._gate, self._breaker.is_open)
        self._dispatch()
        self._pool.drain(0.0 if messages else self._wait_budget(), self._handle_result)
        self._dispatch()
        self._commit_due()
        self._update_caught_up(bool(messages))
        self._observer.maybe_refresh_lag(self._gate.consumer)

    def _wait_budget(self) -> float:
        now = self._clock()
        # Only a deadline the loop can act on may wake it early: with every slot in flight, or a
        # probe already out while the breaker is open, a past-due time would turn the wait into
        # a busy loop (a finished attempt wakes `drain` anyway).
        wake = [now + 0.05, self._wake_at if self._wake_at > now else now + 0.05]
        if self._breaker.is_open:
            if not self._probes.in_flight:
                wake.append(self._probes.next_at)
        elif self._pool.in_flight < self._settings.in_flight:
            due = self._scheduler.next_due()
            if due is not None:
                wake.append(due)
        return max(0.0, min(wake) - now)

    # --- intake --------------------------------------------------------------------------------

    def _ingest(self, message: Any) -> None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", error)
            return
        partition, offset = message.partition(), message.offset()
        if not self._gate.ledger.track(partition, offset):
            return
        envelope = open_message(message)
        self._observer.ingested(envelope)
        size = payload_size(envelope)
        self._intake.note_size(size)
        if envelope.event is None:
            self._settler.publish_dead_letter(envelope, "DecodeError", envelope.decode_error or "")
            self._gate.ledger.mark_done(partition, offset)
        elif isinstance(envelope.event, TransactionEvent):
            pending = PendingEvent(envelope, envelope.event, next(self._seq))
            pending.key = (partition, envelope.contact_key)
            pending.size = size
            self._scheduler.add(pending)
        else:  # contact snapshots and inbound calls are not sent to web services
            self.stats.skipped += 1
            self._gate.ledger.mark_done(partition, offset)
            self._observer.finished(envelope, delivered=False)

    # --- attempts ------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        now = self._clock()
        if self._breaker.is_open:
            probe = self._scheduler.oldest_head() if self._probes.due(now) else None
            if probe is not None:
                self._probes.started()
                self._pool.submit(probe, probe=True)
            return
        while self._pool.in_flight < self._settings.in_flight:
            pending = self._scheduler.pop_ready(now)
            if pending is None:
                return
            wait = self._bucket.try_acquire() if self._bucket is not None else 0.0
            if wait > 0:
                self._scheduler.push_back(pending)
                self._wake_at = now + wait
                return
            self._pool.submit(pending, probe=False)

    # --- commits --------------------------------------------------------------------------------

    def _commit_due(self) -> None:
        now = self._clock()
        if now >= self._next_commit_at:
            self._next_commit_at = now + self._settings.commit_interval_s
            before = self._gate.ledger.committable()
            self._gate.commit()
            self._observer.committed(self._topic, before, self._gate.ledger.committable())

    # --- rebalances, catching up, shutdown -----------------------------------------------------

    def _on_assign(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        mine = {tp.partition for tp in partitions if tp.topic == self._topic}
        self._gate.forget(mine)
        self._observer.assigned(self._topic, mine)

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        revoked = {tp.partition for tp in partitions if tp.topic == self._topic}
        deadline = self._clock() + self._settings.revoke_grace_s
        while any(self._pool.by_partition[p] > 0 for p in revoked) and self._clock() < deadline:
            self._pool.drain(0.05, self._handle_result)
        self._release(revoked, commit=True)

    def _on_lost(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self._release({tp.partition for tp in partitions if tp.topic == self._topic}, False)

    def _release(self, partitions: set[int], commit: bool) -> None:
        dropped = self._scheduler.drop_partitions(partitions)
        if commit:
            self._gate.commit(partitions)
        self._gate.forget(partitions)
        self._observer.revoked(self._topic, partitions)
        if dropped:
            log.info(
                "partitions %s revoked: %d unfinished events left for the next owner",
                sorted(partitions),
                len(dropped),
            )

    def _update_caught_up(self, got_messages: bool) -> None:
        if got_messages or self._pool.in_flight or len(self._scheduler):
            self.caught_up.clear()
            return
        now = self._clock()
        if now < self._next_catch_up_check:
            return
        self._next_catch_up_check = now + 1.0  # a few broker round trips
        if self._gate.at_end():
            self.caught_up.set()
        else:
            self.caught_up.clear()

    def _shutdown(self) -> None:
        deadline = self._clock() + self._settings.shutdown_grace_s
        try:
            while self._pool.in_flight > 0 and self._clock() < deadline:
                self._pool.drain(0.05, self._handle_result)
            self._gate.commit()
        except Exception:
            log.exception("error while finishing; uncommitted events will be redelivered")
        finally:
            self._gate.consumer.close()
            self._pool.shutdown()
