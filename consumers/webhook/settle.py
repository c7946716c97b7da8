"""Decide what an attempt's result means for its event: delivered, retried or dead-lettered.

An event leaves the relay's buffer only as delivered or dead-lettered (its dead letter queued,
flushed before the next commit; see partitions.py), so its offset is marked handled only then.
An endpoint outage opens the circuit breaker instead of counting against the events caught in
it, and a probe's result decides when the breaker closes. Loop thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from consumers.runtime.dead_letter import DeadLetterLimit, DeadLetterPublisher
from consumers.runtime.envelope import Envelope
from consumers.webhook.backoff import RetryPolicy
from consumers.webhook.breaker import CircuitBreaker, ProbeSchedule
from consumers.webhook.observer import RelayObserver
from consumers.webhook.partitions import PartitionGate
from consumers.webhook.scheduler import ContactScheduler, PendingEvent, build_dead_letter
from consumers.webhook.sender import AttemptOutcome, AttemptResult
from consumers.webhook.settings import RelaySettings, RelayStats

log = logging.getLogger("consumers.webhook.relay")


class EventSettler:
    """Applies attempt results to the scheduler, the breaker, the ledger and the dead letters."""

    def __init__(
        self,
        gate: PartitionGate,
        scheduler: ContactScheduler,
        dead_letters: DeadLetterPublisher,
        policy: RetryPolicy,
        settings: RelaySettings,
        breaker: CircuitBreaker[PendingEvent],
        probes: ProbeSchedule,
        limit: DeadLetterLimit | None,
        clock: Callable[[], float],
        observer: RelayObserver,
        stats: RelayStats,
    ) -> None:
        self._gate = gate
        self._scheduler = scheduler
        self._dead_letters = dead_letters
        self._policy = policy
        self._settings = settings
        self._breaker = breaker
        self._probes = probes
        self._limit = limit
        self._clock = clock
        self._observer = observer
        self._stats = stats

    def handle_result(self, pending: PendingEvent, result: AttemptResult, probe: bool) -> None:
        """Take one finished attempt (an `AttemptPool.drain` handler)."""
        self._probes.returned(probe)
        self._stats.attempts += 1
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
                self._probes.closed()
            self._breaker.record_success()
        if result.delivered:
            self._stats.delivered += 1
            if self._limit is not None:
                self._limit.record_success()
            self._observer.finished(pending.envelope, delivered=True)
            self._finish(pending)
            return
        if result.is_outage:
            if self._breaker.is_open:  # not counted against the event
                if probe:
                    self._probes.failed(now, result.retry_after_s)
                self._retry(pending, now)
                return
            pending.attempts += 1
            streak = self._breaker.record_outage(
                pending,
                pending.envelope.contact_key,
                result.outcome is AttemptOutcome.CONNECTION_ERROR,
            )
            if streak is not None:
                self._open_breaker(streak, now)
                self._retry(pending, now)
                return
        else:
            pending.attempts += 1
        if pending.attempts >= self._settings.max_attempts:
            self._dead_letter(pending)
            return
        self._retry(pending, now + self._policy.retry_delay(pending.attempts, result.retry_after_s))

    def _retry(self, pending: PendingEvent, due: float) -> None:
        self._observer.retry("retryable")
        self._scheduler.retry_at(pending, due)

    def _open_breaker(self, streak: list[PendingEvent], now: float) -> None:
        for item in streak:
            item.attempts = max(0, item.attempts - 1)
        self._stats.breaker_opened += 1
        self._probes.opened(now)
        log.warning(
            "webhook endpoint looks down (%d consecutive failures, last: %s): circuit breaker "
            "open, consumption paused, probing",
            len(streak),
            streak[-1].last_error,
        )

    def _finish(self, pending: PendingEvent) -> None:
        self._gate.ledger.mark_done(pending.envelope.partition, pending.envelope.offset)
        self._scheduler.complete(pending)

    def _dead_letter(self, pending: PendingEvent) -> None:
        self.publish_dead_letter(
            pending.envelope, f"webhook.{pending.last_outcome}", pending.last_error, pending
        )
        self._finish(pending)

    def publish_dead_letter(
        self,
        envelope: Envelope,
        error_class: str,
        message: str,
        pending: PendingEvent | None = None,
    ) -> None:
        """Queue the dead letter of an event given up on (or undecodable: `pending` None)."""
        self._dead_letters.publish(build_dead_letter(envelope, error_class, message, pending))
        attempts = 0 if pending is None else pending.attempts
        self._observer.dead_lettered(envelope, error_class, message, attempts)
        self._gate.note_dead_letter()
        self._stats.dead_lettered += 1
        if self._limit is not None:
            self._limit.record_dead_letter()
