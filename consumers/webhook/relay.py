"""Relay a campaign's transaction events to one web service as a Kafka consumer group.

Guarantees:
- at-least-once: an offset is committed only when it and every earlier offset of its partition
  is delivered, dead-lettered (dead letters flushed first) or skipped; a crash or a lost
  partition redelivers the rest, under the same idempotency id (the event id);
- strict order per contact (see scheduler.py), contacts concurrently up to `in_flight`;
- at most `max_attempts` counted attempts per event, then the group's dead-letter topic;
- an endpoint outage opens the circuit breaker (breaker.py): consumption pauses, one probe at a
  time, nothing is dead-lettered for it, and the relay resumes by itself.

Threads: this loop owns every piece of state and the Kafka consumer; worker threads only make
single HTTP attempts and hand the results back through a queue.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from confluent_kafka import KafkaError, TopicPartition

from consumers.runtime.dead_letter import DeadLetterLimit, DeadLetterPublisher
from consumers.runtime.envelope import Envelope, open_envelope
from consumers.webhook.backoff import RetryPolicy
from consumers.webhook.breaker import CircuitBreaker
from consumers.webhook.partitions import KafkaConsumerLike, PartitionGate
from consumers.webhook.rate_limit import TokenBucket
from consumers.webhook.scheduler import ContactScheduler, PendingEvent, build_dead_letter
from consumers.webhook.sender import AttemptOutcome, AttemptResult, WebhookSender
from consumers.webhook.settings import RelaySettings, RelayStats
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
    ) -> None:
        self._gate = PartitionGate(consumer, topic, dead_letters)
        self._topic = topic
        self._sender = sender
        self._dead_letters = dead_letters
        self._policy = policy
        self._settings = settings
        self._bucket = bucket
        self._breaker = breaker or CircuitBreaker()
        self._limit = dead_letter_limit
        self._clock = clock
        self._scheduler = ContactScheduler()
        self._results: queue.SimpleQueue[tuple[PendingEvent, AttemptResult, bool]] = (
            queue.SimpleQueue()
        )
        self._executor = ThreadPoolExecutor(settings.in_flight, thread_name_prefix="webhook")
        self._seq = itertools.count()
        self._in_flight = 0
        self._in_flight_by_partition: Counter[int] = Counter()
        self._probe_in_flight = False
        self._probe_failures = 0
        self._next_probe_at = 0.0
        self._next_commit_at = 0.0
        self._next_catch_up_check = 0.0
        self._wake_at = 0.0
        self.stats = RelayStats()
        self.caught_up = threading.Event()

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
        busy = self._in_flight > 0 or len(self._scheduler) > 0
        # consume() waits for a full batch or the whole timeout, so it is only called without
        # waiting; an idle relay waits in poll(), which returns at the first message.
        messages = [] if busy else [self._gate.consumer.poll(self._settings.idle_poll_s)]
        messages = [m for m in messages if m is not None]
        messages += self._gate.consumer.consume(self._settings.poll_batch, timeout=0)
        for message in messages:
            self._ingest(message)
        self._apply_pause()
        self._dispatch()
        self._drain_results(0.0 if messages else self._wait_budget())
        self._dispatch()
        self._commit_due()
        self._update_caught_up(bool(messages))

    def _wait_budget(self) -> float:
        now = self._clock()
        wake = [now + 0.05, self._wake_at if self._wake_at > now else now + 0.05]
        due = self._scheduler.next_due()
        if due is not None:
            wake.append(due)
        if self._breaker.is_open:
            wake.append(self._next_probe_at)
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
        envelope = open_envelope(
            message.topic(),
            partition,
            offset,
            message.key(),
            message.value(),
            message.timestamp()[1],
            message.headers(),
        )
        if envelope.event is None:
            self._publish_dead_letter(envelope, "DecodeError", envelope.decode_error or "")
            self._gate.ledger.mark_done(partition, offset)
        elif isinstance(envelope.event, TransactionEvent):
            pending = PendingEvent(envelope, envelope.event, next(self._seq))
            pending.key = (partition, envelope.contact_key)
            self._scheduler.add(pending)
        else:  # contact snapshots and inbound calls are not sent to web services
            self.stats.skipped += 1
            self._gate.ledger.mark_done(partition, offset)

    def _apply_pause(self) -> None:
        buffered, limit = len(self._scheduler), self._settings.max_buffered
        # Hysteresis: pause above the limit, resume below half of it.
        overloaded = buffered > limit or (self._gate.paused and buffered > limit // 2)
        if overloaded and not self._gate.paused:
            self.stats.backpressure_pauses += 1
        self.stats.max_buffered_seen = max(self.stats.max_buffered_seen, buffered)
        self._gate.set_paused(self._breaker.is_open or overloaded)

    # --- attempts ------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        now = self._clock()
        if self._breaker.is_open:
            if not self._probe_in_flight and now >= self._next_probe_at:
                probe = self._scheduler.oldest_head()
                if probe is not None:
                    self._probe_in_flight = True
                    self._submit(probe, probe=True)
            return
        while self._in_flight < self._settings.in_flight:
            pending = self._scheduler.pop_ready(now)
            if pending is None:
                return
            wait = self._bucket.try_acquire() if self._bucket is not None else 0.0
            if wait > 0:
                self._scheduler.push_back(pending)
                self._wake_at = now + wait
                return
            self._submit(pending, probe=False)

    def _submit(self, pending: PendingEvent, probe: bool) -> None:
        self._in_flight += 1
        self._in_flight_by_partition[pending.envelope.partition] += 1
        self._executor.submit(self._attempt, pending, probe)

    def _attempt(self, pending: PendingEvent, probe: bool) -> None:
        """Worker thread: one POST; the result goes back to the loop."""
        try:
            result = self._sender.send(pending.event)
        except Exception as exc:  # a bug must not kill the worker or lose the event
            log.exception("unexpected error while sending event %s", pending.event.event_id)
            result = AttemptResult(
                AttemptOutcome.REJECTED, None, None, "", f"internal error: {type(exc).__name__}", ""
            )
        self._results.put((pending, result, probe))

    def _drain_results(self, block_s: float) -> None:
        try:
            item = self._results.get(timeout=block_s) if block_s > 0 else self._results.get_nowait()
        except queue.Empty:
            return
        while True:
            self._handle_result(*item)
            try:
                item = self._results.get_nowait()
            except queue.Empty:
                return

    def _handle_result(self, pending: PendingEvent, result: AttemptResult, probe: bool) -> None:
        self._in_flight -= 1
        self._in_flight_by_partition[pending.envelope.partition] -= 1
        self._probe_in_flight = self._probe_in_flight and not probe
        self.stats.attempts += 1
        if pending.abandoned:
            return
        now = self._clock()
        pending.first_attempt_at = pending.first_attempt_at or result.started_at
        pending.last_attempt_at = result.started_at
        pending.last_status, pending.last_outcome = result.status, result.outcome.value
        pending.last_excerpt, pending.last_error = result.excerpt, result.error
        if not result.is_outage:
            if self._breaker.is_open:
                log.warning("webhook endpoint answers again: circuit breaker closed, resuming")
            self._breaker.record_success()
        if result.delivered:
            self.stats.delivered += 1
            if self._limit is not None:
                self._limit.record_success()
            self._finish(pending)
            return
        if result.is_outage:
            if self._breaker.is_open:  # not counted against the event
                if probe:
                    self._probe_failures += 1
                    delay = self._policy.probe_delay(self._probe_failures, result.retry_after_s)
                    self._next_probe_at = now + delay
                self._scheduler.retry_at(pending, now)
                return
            pending.attempts += 1
            streak = self._breaker.record_outage(
                pending,
                pending.envelope.contact_key,
                result.outcome is AttemptOutcome.CONNECTION_ERROR,
            )
            if streak is not None:
                self._open_breaker(streak, now)
                self._scheduler.retry_at(pending, now)
                return
        else:
            pending.attempts += 1
        if pending.attempts >= self._settings.max_attempts:
            self._dead_letter(pending)
            return
        delay = self._policy.retry_delay(pending.attempts, result.retry_after_s)
        self._scheduler.retry_at(pending, now + delay)

    def _open_breaker(self, streak: list[PendingEvent], now: float) -> None:
        for item in streak:
            item.attempts = max(0, item.attempts - 1)
        self.stats.breaker_opened += 1
        self._probe_failures = 0
        self._next_probe_at = now + self._policy.probe_delay(0)
        log.warning(
            "webhook endpoint looks down (%d consecutive failures, last: %s): circuit breaker "
            "open, consumption paused, probing",
            len(streak),
            streak[-1].last_error,
        )

    def _finish(self, pending: PendingEvent) -> None:
        self._gate.ledger.mark_done(pending.envelope.partition, pending.envelope.offset)
        self._scheduler.complete(pending)

    # --- dead letters and commits --------------------------------------------------------------

    def _dead_letter(self, pending: PendingEvent) -> None:
        log.warning(
            "event %s of contact %s dead-lettered after %d attempts (last status %s)",
            pending.event.event_id,
            pending.envelope.contact_key,
            pending.attempts,
            pending.last_status,
        )
        self._publish_dead_letter(
            pending.envelope, f"webhook.{pending.last_outcome}", pending.last_error, pending
        )
        self._finish(pending)

    def _publish_dead_letter(
        self,
        envelope: Envelope,
        error_class: str,
        message: str,
        pending: PendingEvent | None = None,
    ) -> None:
        self._dead_letters.publish(build_dead_letter(envelope, error_class, message, pending))
        self._gate.note_dead_letter()
        self.stats.dead_lettered += 1
        if self._limit is not None:
            self._limit.record_dead_letter()

    def _commit_due(self) -> None:
        now = self._clock()
        if now >= self._next_commit_at:
            self._next_commit_at = now + self._settings.commit_interval_s
            self._gate.commit()

    # --- rebalances, catching up, shutdown -----------------------------------------------------

    def _on_assign(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self._gate.forget({tp.partition for tp in partitions if tp.topic == self._topic})

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        revoked = {tp.partition for tp in partitions if tp.topic == self._topic}
        deadline = self._clock() + self._settings.revoke_grace_s
        while (
            any(self._in_flight_by_partition[p] > 0 for p in revoked) and self._clock() < deadline
        ):
            self._drain_results(0.05)
        self._release(revoked, commit=True)

    def _on_lost(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self._release({tp.partition for tp in partitions if tp.topic == self._topic}, False)

    def _release(self, partitions: set[int], commit: bool) -> None:
        dropped = self._scheduler.drop_partitions(partitions)
        if commit:
            self._gate.commit(partitions)
        self._gate.forget(partitions)
        if dropped:
            log.info(
                "partitions %s revoked: %d unfinished events left for the next owner",
                sorted(partitions),
                len(dropped),
            )

    def _update_caught_up(self, got_messages: bool) -> None:
        if got_messages or self._in_flight or len(self._scheduler):
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
            while self._in_flight > 0 and self._clock() < deadline:
                self._drain_results(0.05)
            self._gate.commit()
        except Exception:
            log.exception("error while finishing; uncommitted events will be redelivered")
        finally:
            self._gate.consumer.close()
            self._executor.shutdown(wait=False, cancel_futures=True)
