"""Report the webhook relay's work to metrics, readiness and logs (each optional).

Metrics: events handled (`dbsync2_events_consumed_total`: delivered, skipped or dead-lettered),
deliveries (`dbsync2_webhook_deliveries_total`), time from intake to that outcome per event
(`dbsync2_batch_seconds`), lag, dead letters, retries (`retryable` per failed attempt that will
be retried, `backpressure` per pause for a full buffer), paused state and the breaker state.
Readiness: `partitions_assigned` and `breaker_not_open`. Loop thread only, except the readiness
checks, which read plain attributes.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter

from consumers.runtime.clock import Clock, SystemClock
from consumers.runtime.envelope import Envelope
from consumers.runtime.lag_tracker import TP, LagTracker
from ops.observability.health import Readiness
from ops.observability.metrics import BreakerState, PipelineMetrics

log = logging.getLogger("consumers.webhook.relay")

LAG_REFRESH_SECONDS = 5.0
DELIVERIES = "dbsync2_webhook_deliveries"  # exposed as dbsync2_webhook_deliveries_total


class RelayObserver:
    """One relay instance's view on metrics, lag, readiness and dead-letter logs."""

    def __init__(
        self,
        group: str,
        target: str,
        metrics: PipelineMetrics | None = None,
        readiness: Readiness | None = None,
        lag_interval: float = LAG_REFRESH_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        self._group, self._target = group, target
        self._metrics = metrics
        self._clock = clock or SystemClock()
        self._paused = False
        self._lag = LagTracker(group, metrics, self._clock, lag_interval)
        self._assigned: set[TP] = set()
        # Kafka timestamp and intake time of every tracked, not yet committed message.
        self._inflight: dict[TP, dict[int, tuple[int, float]]] = {}
        self.breaker_state: BreakerState = "closed"
        self._deliveries: Any = None
        if metrics is not None:
            self._deliveries = Counter(
                DELIVERIES, "Events the webhook relay delivered (2xx).", ("group",),
                registry=metrics.registry,
            )  # fmt: skip
            metrics.set_breaker(group, target, "closed")
            metrics.set_paused(group, False)
        if readiness is not None:
            readiness.add_check("partitions_assigned", lambda: bool(self._assigned))
            readiness.add_check("breaker_not_open", lambda: self.breaker_state != "open")

    # --- intake and outcomes --------------------------------------------------------------------

    def polled(self) -> None:
        """A poll of Kafka returned."""
        if self._metrics is not None:
            self._metrics.mark_poll(self._group, self._clock.time())

    def ingested(self, env: Envelope) -> None:
        """A new message was taken from Kafka."""
        tp = (env.topic, env.partition)
        self._inflight.setdefault(tp, {})[env.offset] = (env.timestamp_ms, self._clock.monotonic())
        self._lag.note_received(tp, env.timestamp_ms)

    def finished(self, env: Envelope, delivered: bool) -> None:
        """An event was delivered (or skipped: not a transaction event)."""
        if self._metrics is None:
            return
        self._metrics.record_consumed(self._group, 1)
        seen = self._inflight.get((env.topic, env.partition), {}).get(env.offset)
        if seen is not None:
            self._metrics.observe_batch(self._group, self._clock.monotonic() - seen[1])
        if delivered:
            self._deliveries.labels(self._group).inc()

    def dead_lettered(self, env: Envelope, error_class: str, reason: str, attempts: int) -> None:
        """An event went to the dead-letter topic: count it and log it with its coordinates."""
        if self._metrics is not None:
            self._metrics.record_dead_letter(self._group)
        self.finished(env, delivered=False)
        log.warning(
            "event %s of contact %s dead-lettered after %d attempts (%s: %s)",
            getattr(env.event, "event_id", None), env.contact_key, attempts, error_class, reason,
            extra={
                "group": self._group, "topic": env.topic, "partition": env.partition,
                "offset": env.offset, "contact_id": env.contact_key, "attempt": attempts,
                "event_id": getattr(env.event, "event_id", None), "error_class": error_class,
            },
        )  # fmt: skip

    def retry(self, reason: str) -> None:
        """An attempt failed, to be retried (`retryable`), or intake paused (`backpressure`)."""
        if self._metrics is not None:
            self._metrics.record_retry(self._group, reason)

    def paused(self, paused: bool) -> None:
        """Whether consumption is paused (breaker open or backpressure)."""
        self._paused = paused
        if self._metrics is not None:
            self._metrics.set_paused(self._group, paused)

    def breaker(self, state: BreakerState) -> None:
        """The circuit breaker changed state."""
        self.breaker_state = state
        if self._metrics is not None:
            self._metrics.set_breaker(self._group, self._target, state)

    # --- partitions, commits and lag ------------------------------------------------------------

    def assigned(self, topic: str, partitions: set[int]) -> None:
        """Partitions were assigned (their state starts afresh)."""
        for partition in partitions:
            self._assigned.add((topic, partition))
            self._forget((topic, partition))
        self._lag.refresh_soon()

    def revoked(self, topic: str, partitions: set[int]) -> None:
        """Partitions were revoked or lost."""
        for partition in partitions:
            self._assigned.discard((topic, partition))
            self._forget((topic, partition))

    def _forget(self, tp: TP) -> None:
        self._lag.forget(tp)
        self._inflight.pop(tp, None)

    def committed(self, topic: str, before: dict[int, int], after: dict[int, int]) -> None:
        """`before` was committable before a commit, `after` after it: the difference committed."""
        for partition, offset in before.items():
            if partition in after:
                continue  # the commit failed (it is retried later)
            tp = (topic, partition)
            seen = self._inflight.get(tp, {})
            done = [o for o in seen if o < offset]
            if not done:
                continue
            last_ts = max(seen[o][0] for o in done)
            for o in done:
                del seen[o]
            try:
                self._lag.note_committed(tp, offset, last_ts)
            except RuntimeError:  # a re-assignment started lower: take the new truth
                self._lag.committed[tp] = offset
            if seen:  # still in flight: the oldest of them ages the partition's lag
                self._lag.note_received(tp, seen[min(seen)][0])

    def maybe_refresh_lag(self, consumer: Any) -> None:
        """Publish lag per partition when the refresh interval has passed."""
        self._lag.maybe_refresh(consumer, self._assigned, self._paused)
