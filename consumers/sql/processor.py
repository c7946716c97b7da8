"""Apply one consumed batch: isolate events that fail deterministically, dead-letter them, write
the rest with the batch's offsets.

Order per batch (house rule 6): dead letters are published and flushed first, then the rows and
the offsets past them commit in one database transaction. A crash between the two re-delivers
the batch: the rows are re-applied as no-ops and a dead letter may be published twice (at least
once), but nothing is lost. An outage (RetryableError or a retryable database error) propagates
to the caller, which pauses and retries the same batch; it never leads to a dead letter.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from consumers.runtime.dead_letter import DeadLetter, DeadLetterLimit, DeadLetterPublisher, iso_now
from consumers.runtime.envelope import Envelope
from consumers.sql.classify import describe_error, is_retryable
from consumers.sql.writer import BatchWriter, PreparedBatch
from schemas import Event

log = logging.getLogger(__name__)

# A deterministic failure is confirmed by this many attempts (the bisection trial counts as the
# first) before the event is dead-lettered; more would only repeat the same rejection.
MAX_ATTEMPTS = 3


@dataclass
class _Rejection:
    envelope: Envelope
    error_class: str
    message: str
    attempts: int
    first_at: str
    published: bool = False


@dataclass(frozen=True)
class BatchResult:
    """What one batch did: rows written, events applied and events dead-lettered."""

    rows: int
    events: int
    dead_letters: int


class BatchProcessor:
    """Turns a batch of envelopes into one committed transaction plus dead letters."""

    def __init__(
        self,
        writer: BatchWriter,
        dead_letters: DeadLetterPublisher,
        limit: DeadLetterLimit,
        secret: str | None,
    ) -> None:
        self._writer = writer
        self._dead_letters = dead_letters
        self._limit = limit
        self._secret = secret
        self._pending: dict[tuple[str, int, int], _Rejection] = {}

    def prepare(self, envelopes: Sequence[Envelope]) -> PreparedBatch | None:
        """Derive and render the batch's rows ahead of `process` (best effort, any thread)."""
        try:
            return self._writer.prepare([e.event for e in envelopes if e.event is not None])
        except Exception:  # the writer meets the same problem again in process(), handled there
            log.debug("could not prepare a batch ahead; it is prepared when written", exc_info=True)
            return None

    def process(
        self, envelopes: Sequence[Envelope], prepared: PreparedBatch | None = None
    ) -> BatchResult:
        """Apply `envelopes` (one batch, in order); raise on an outage, to be called again.

        `prepared` is the batch's `prepare` result, used if it still fits what is written.
        """
        coords = {_coord(e) for e in envelopes}
        self._pending = {c: r for c, r in self._pending.items() if c in coords}
        for env in envelopes:
            if env.event is None:
                self._reject(env, "DecodeError", env.decode_error or "undecodable", MAX_ATTEMPTS)
        offsets: dict[tuple[str, int], int] = {}
        for env in envelopes:
            tp = (env.topic, env.partition)
            offsets[tp] = max(offsets.get(tp, 0), env.offset + 1)
        first_error: BaseException | None = None
        if not self._pending:
            try:
                rows = self._writer.write(self._applicable(envelopes), offsets, prepared)
                return self._finish(rows, len(envelopes), 0)
            except Exception as exc:
                if is_retryable(exc):
                    raise
                first_error = exc
        good = [e for e in envelopes if e.event is not None and _coord(e) not in self._pending]
        self._isolate(good, first_error)
        self._publish_pending()
        events = self._applicable(envelopes)
        # A failure here (only when events fail together but never alone) propagates.
        rows = self._writer.write(events, offsets)
        return self._finish(rows, len(events), len(envelopes) - len(events))

    def _applicable(self, envelopes: Sequence[Envelope]) -> list[Event]:
        return [
            e.event for e in envelopes if e.event is not None and _coord(e) not in self._pending
        ]

    def _finish(self, rows: int, events: int, dead: int) -> BatchResult:
        self._pending.clear()
        if events:
            self._limit.record_success(events)
        return BatchResult(rows, events, dead)

    def _isolate(self, good: Sequence[Envelope], first_error: BaseException | None) -> None:
        """Find the events among `good` that the database rejects and mark them rejected."""
        if not good:
            return
        events = [e.event for e in good if e.event is not None]
        for index, error in self._writer.find_failing(events, first_error):
            env = good[index]
            attempts = 1
            first_at = iso_now()
            last: BaseException | None = error
            while attempts < MAX_ATTEMPTS and last is not None:
                attempts += 1
                last = self._writer.try_write([events[index]])
            if last is None:
                log.info(
                    "event at %s/%d:%d succeeded on retry", env.topic, env.partition, env.offset
                )
                continue
            error_class, message = describe_error(last, self._secret)
            self._reject(env, error_class, message, attempts, first_at)

    def _reject(
        self,
        env: Envelope,
        error_class: str,
        message: str,
        attempts: int,
        first_at: str | None = None,
    ) -> None:
        coord = _coord(env)
        if coord in self._pending:
            return
        log.warning(
            "dead-lettering %s partition %d offset %d: %s: %s",
            env.topic,
            env.partition,
            env.offset,
            error_class,
            message[:300],
        )
        self._pending[coord] = _Rejection(
            env, error_class, message, attempts, first_at or iso_now()
        )

    def _publish_pending(self) -> None:
        """Publish every not yet published rejection and wait for the broker to confirm."""
        fresh = [r for r in self._pending.values() if not r.published]
        for rejection in fresh:
            self._dead_letters.publish(
                DeadLetter(
                    envelope=rejection.envelope,
                    error_class=rejection.error_class,
                    error_message=rejection.message,
                    attempts=rejection.attempts,
                    first_attempt_at=rejection.first_at,
                    last_attempt_at=iso_now(),
                )
            )
        self._dead_letters.flush()
        for rejection in fresh:
            rejection.published = True
            self._limit.record_dead_letter()


def _coord(env: Envelope) -> tuple[str, int, int]:
    return (env.topic, env.partition, env.offset)
