"""Run one ConsumerGroup: poll, decode, batch, retry, dead-letter, commit; stop gracefully.

Guarantees, per batch, in this order: the group's `handle` returned for every event that was not
dead-lettered, the group's `flush` (if any) returned, every dead letter was acknowledged by
Kafka, and only then are the offsets committed. A crash anywhere before the commit re-delivers
the batch (at least once). `RetryableError` and `Backpressure` pause the partitions and retry the
same batch with backoff: nothing is skipped and nothing is dead-lettered because of an outage.
`InvalidEvent` is isolated by bisecting the batch, so only the offending event is dead-lettered
and its neighbours are handled. Undecodable bytes are dead-lettered without reaching the group.
Any other exception from the group is a bug: the runtime stops without committing.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from confluent_kafka import KafkaException, TopicPartition

from consumers.runtime.clock import Clock, SystemClock
from consumers.runtime.consumer_seam import KafkaConsumerLike, is_rebalance_error, usable_messages
from consumers.runtime.dead_letter import DeadLetter, DeadLetterLimit, DeadLetterPublisher, iso_now
from consumers.runtime.envelope import Envelope, open_message
from consumers.runtime.group import ConsumerGroup, GroupSpec, TypedEnvelope
from consumers.runtime.lag_tracker import TP, LagTracker
from consumers.runtime.observer import RuntimeObserver
from consumers.runtime.outcomes import InvalidEvent, RetryableError
from consumers.runtime.retry_loop import run_with_retries
from ops.observability.health import Readiness
from ops.observability.metrics import PipelineMetrics
from schemas.topics import events_topic

log = logging.getLogger(__name__)
T = TypeVar("T")

# One consume() call waits at most this long, so a stop request is noticed within a second.
POLL_SLICE_SECONDS = 0.5
# Lag is recomputed this often: each refresh asks the broker for every partition's end offset.
LAG_REFRESH_SECONDS = 5.0


class _Stopped(Exception):
    """A stop was requested during a retry wait; the batch is abandoned, uncommitted."""


class BatchRuntime:
    """The poll-handle-commit loop of one custom consumer group instance."""

    def __init__(
        self,
        consumer: KafkaConsumerLike,
        group: ConsumerGroup,
        spec: GroupSpec,
        dead_letters: DeadLetterPublisher,
        *,
        limit: DeadLetterLimit | None = None,
        metrics: PipelineMetrics | None = None,
        readiness: Readiness | None = None,
        clock: Clock | None = None,
        lag_interval: float = LAG_REFRESH_SECONDS,
    ) -> None:
        self._consumer = consumer
        self._group = group
        self._spec = spec
        self._dlq = dead_letters
        self._limit = limit or DeadLetterLimit()
        self._clock = clock or SystemClock()
        self._assigned: set[TP] = set()
        self._carry: list[Any] = []
        self._paused = False
        self._lag = LagTracker(spec.name, metrics, self._clock, lag_interval)
        self._dead_in_batch = 0
        self.handled = 0
        self.dead_lettered = 0
        probe = getattr(group, "ready", None)
        self._observer = RuntimeObserver(
            spec.name,
            metrics,
            readiness,
            lambda: bool(self._assigned),
            probe if callable(probe) else None,
        )

    @property
    def assigned(self) -> frozenset[TP]:
        """The (topic, partition) pairs this instance owns right now."""
        return frozenset(self._assigned)

    # --- lifecycle ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set; then finish the current batch and close the group."""
        self._consumer.subscribe(
            [events_topic(self._spec.campaign)],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        try:
            while not stop.is_set():
                batch = self._collect_batch(stop)
                if batch:
                    try:
                        self._process(batch, stop)
                    except _Stopped:
                        log.info("stop requested during a retry; the batch stays uncommitted")
                        break
                self._maybe_refresh_lag()
        finally:
            try:
                self._group.close()
            except Exception:
                log.exception("closing group %s failed", self._spec.name)

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self._assigned |= {(p.topic, p.partition) for p in partitions}
        if self._paused and partitions:
            consumer.pause(partitions)
        log.info("assigned %s", sorted((p.topic, p.partition) for p in partitions))

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        gone = {(p.topic, p.partition) for p in partitions}
        self._assigned -= gone
        self._carry = [m for m in self._carry if (m.topic(), m.partition()) not in gone]
        for tp in gone:
            self._lag.forget(tp)
        log.info("revoked %s", sorted(gone))

    def _maybe_refresh_lag(self) -> None:
        self._lag.maybe_refresh(self._consumer, self._assigned, self._paused)

    # --- polling --------------------------------------------------------------------------------

    def _poll(self, max_messages: int, timeout: float) -> list[Any]:
        messages = self._consumer.consume(num_messages=max(1, max_messages), timeout=timeout)
        self._observer.polled(self._clock.time())
        return usable_messages(messages)

    def _collect_batch(self, stop: threading.Event) -> list[Any]:
        size = self._spec.batch_size
        batch, self._carry = self._carry[:size], self._carry[size:]
        if self._carry:
            return batch  # polling now would put newer messages before the carried ones
        deadline = self._clock.monotonic() + self._spec.max_wait if batch else None
        while len(batch) < size and not stop.is_set():
            if deadline is None:
                got = self._poll(size, POLL_SLICE_SECONDS)
                if not got:
                    break
                deadline = self._clock.monotonic() + self._spec.max_wait
                batch.extend(got)
                continue
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                break
            batch.extend(self._poll(size - len(batch), min(remaining, POLL_SLICE_SECONDS)))
        return batch

    # --- one batch ------------------------------------------------------------------------------

    def _process(self, messages: list[Any], stop: threading.Event) -> None:
        started = self._clock.monotonic()
        self._dead_in_batch = 0
        envelopes = [
            open_message(m) for m in messages if (m.topic(), m.partition()) in self._assigned
        ]
        for env in envelopes:
            self._lag.note_received((env.topic, env.partition), env.timestamp_ms)
        typed: list[TypedEnvelope] = []
        for env in envelopes:
            if env.event is None:
                self._dead_letter(env, "DecodeError", env.decode_error or "undecodable")
            else:
                typed.append(TypedEnvelope(env.event, env))
        self._deliver_bisecting(typed, stop)
        flush = getattr(self._group, "flush", None)
        if callable(flush):
            self._with_retries(flush, stop)
        self._with_retries(self._dlq.flush, stop)
        self._resume()
        self._commit(envelopes, stop)
        ok = len(envelopes) - self._dead_in_batch
        self.handled += ok
        self._observer.batch_done(ok, self._clock.monotonic() - started)

    def _deliver_bisecting(self, items: Sequence[TypedEnvelope], stop: threading.Event) -> None:
        pending: list[Sequence[TypedEnvelope]] = [items] if items else []
        while pending:
            chunk = [i for i in pending.pop(0) if (i.topic, i.partition) in self._assigned]
            if not chunk:
                continue
            try:
                self._with_retries(functools.partial(self._handle_owned, chunk), stop)
                self._limit.record_success(len(chunk))
            except InvalidEvent as exc:
                if len(chunk) == 1:
                    self._dead_letter(chunk[0].envelope, exc.error_class, exc.reason)
                    self._observer.retry("dead_letter")
                    continue
                mid = len(chunk) // 2
                pending[:0] = [chunk[:mid], chunk[mid:]]

    def _handle_owned(self, chunk: Sequence[TypedEnvelope]) -> None:
        # A rebalance during a retry wait may have taken partitions away: their events now
        # belong to another instance, which starts from the last commit.
        owned = [i for i in chunk if (i.topic, i.partition) in self._assigned]
        if owned:
            self._group.handle(owned)

    def _dead_letter(self, env: Envelope, error_class: str, reason: str) -> None:
        self._limit.record_dead_letter()  # raises DeadLetterLimitExceeded before publishing
        now = iso_now()
        self._dlq.publish(DeadLetter(env, error_class, reason, 1, now, now))
        self._dead_in_batch += 1
        self.dead_lettered += 1
        self._observer.dead_lettered(env, error_class, reason)

    def _commit(self, envelopes: Sequence[Envelope], stop: threading.Event) -> None:
        last: dict[TP, Envelope] = {}
        for env in envelopes:
            tp = (env.topic, env.partition)
            if tp in self._assigned and (tp not in last or env.offset > last[tp].offset):
                last[tp] = env
        if not last:
            return
        offsets = [TopicPartition(t, p, e.offset + 1) for (t, p), e in sorted(last.items())]

        def commit() -> None:
            try:
                self._consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:
                if is_rebalance_error(exc):
                    log.info("commit skipped by a rebalance (%s); events will be re-delivered", exc)
                    return
                raise RetryableError(f"offset commit failed: {exc}") from exc

        self._with_retries(commit, stop)
        for tp, env in last.items():
            self._lag.note_committed(tp, env.offset + 1, env.timestamp_ms)

    # --- retries --------------------------------------------------------------------------------

    def _with_retries(self, action: Callable[[], T], stop: threading.Event) -> T:
        def before_wait(reason: str) -> None:
            self._observer.retry(reason)
            self._pause()

        return run_with_retries(
            action, self._spec.retry, before_wait, lambda s: self._wait(s, stop)
        )

    def _pause(self) -> None:
        if not self._paused:
            self._paused = True
            self._consumer.pause([TopicPartition(t, p) for t, p in sorted(self._assigned)])
            self._observer.paused(True)

    def _resume(self) -> None:
        if self._paused:
            self._paused = False
            self._consumer.resume([TopicPartition(t, p) for t, p in sorted(self._assigned)])
            self._observer.paused(False)

    def _wait(self, seconds: float, stop: threading.Event) -> None:
        """Wait while serving the group (polling paused partitions keeps the membership)."""
        end = self._clock.monotonic() + seconds
        while not stop.is_set():
            remaining = end - self._clock.monotonic()
            if remaining <= 0:
                return
            got = self._poll(self._spec.batch_size, min(remaining, POLL_SLICE_SECONDS))
            if got:
                # A partition assigned during the outage was not paused yet: keep what it sent
                # (in order, for after the outage) and pause it too.
                self._carry.extend(got)
                tps = sorted({(m.topic(), m.partition()) for m in got})
                self._consumer.pause([TopicPartition(t, p) for t, p in tps])
            self._maybe_refresh_lag()
        raise _Stopped
