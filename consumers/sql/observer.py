"""Report the SQL materializer's work to metrics and readiness (each optional).

Readiness of a SQL group instance: `partitions_assigned`, `not_paused` (no outage retry in
progress) and `sink_reachable`: false during an outage; true when a batch committed within the
last few seconds; otherwise a cheap `SELECT 1` probe decides (cached briefly, so frequent
scrapes do not load the database).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from consumers.runtime.clock import Clock, SystemClock
from consumers.runtime.envelope import Envelope
from consumers.runtime.lag_tracker import TP, LagTracker
from ops.observability.health import Readiness
from ops.observability.metrics import PipelineMetrics

log = logging.getLogger(__name__)

# Lag is recomputed this often (one broker round trip per assigned partition).
LAG_REFRESH_SECONDS = 5.0
# A batch committed this recently proves the database reachable without a probe.
FRESH_COMMIT_SECONDS = 5.0
# A probe result is reused this long.
PROBE_CACHE_SECONDS = 2.0


class SqlObserver:
    """One SQL group instance's view on metrics, lag and readiness."""

    def __init__(
        self,
        group: str,
        metrics: PipelineMetrics | None = None,
        readiness: Readiness | None = None,
        probe: Callable[[], object] | None = None,
        lag_interval: float = LAG_REFRESH_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        self._group = group
        self._metrics = metrics
        self._probe = probe
        self._clock = clock or SystemClock()
        self._lag = LagTracker(group, metrics, self._clock, lag_interval)
        self._assigned: set[TP] = set()
        self._outage = False
        self._paused = False
        self._last_commit = float("-inf")
        self._probed: tuple[float, bool] = (float("-inf"), False)
        self._lock = threading.Lock()
        if readiness is not None:
            readiness.add_check("partitions_assigned", lambda: bool(self._assigned))
            readiness.add_check("sink_reachable", self.sink_reachable)
            readiness.set_flag("not_paused", True)
        self._readiness = readiness

    # --- consuming ------------------------------------------------------------------------------

    def polled(self) -> None:
        """A poll of Kafka returned."""
        if self._metrics is not None:
            self._metrics.mark_poll(self._group, self._clock.time())

    def received(self, envelopes: Iterable[Envelope]) -> None:
        """Remember when the oldest in-flight message of each partition was written."""
        for env in envelopes:
            self._lag.note_received((env.topic, env.partition), env.timestamp_ms)

    def committed(
        self, batch: list[Envelope], events: int, dead_letters: int, seconds: float
    ) -> None:
        """A batch's rows and offsets committed to the database."""
        self._outage = False
        self._last_commit = self._clock.monotonic()
        if self._metrics is not None:
            self._metrics.record_consumed(self._group, events)
            self._metrics.observe_batch(self._group, seconds)
            for _ in range(dead_letters):
                self._metrics.record_dead_letter(self._group)
        last: dict[TP, Envelope] = {}
        for env in batch:
            tp = (env.topic, env.partition)
            if tp not in last or env.offset > last[tp].offset:
                last[tp] = env
        for tp, env in last.items():
            try:
                self._lag.note_committed(tp, env.offset + 1, env.timestamp_ms)
            except RuntimeError:  # an earlier offset after a rebalance: take the new truth
                self._lag.committed[tp] = env.offset + 1

    def outage(self, reason: str) -> None:
        """A batch failed with a retryable error; it is retried after a backoff."""
        self._outage = True
        if self._metrics is not None:
            self._metrics.record_retry(self._group, "retryable")
        log.debug("outage retry: %s", reason, extra={"group": self._group})

    def paused(self, paused: bool) -> None:
        """The partitions were paused (outage) or resumed."""
        self._paused = paused
        if self._metrics is not None:
            self._metrics.set_paused(self._group, paused)
        if self._readiness is not None:
            self._readiness.set_flag("not_paused", not paused)

    # --- partitions and lag ---------------------------------------------------------------------

    def assigned(self, topic: str, partitions: Iterable[int], stored: Mapping[int, int]) -> None:
        """Partitions were assigned; `stored` holds the next offsets the database has."""
        for partition in partitions:
            tp = (topic, partition)
            self._assigned.add(tp)
            self._lag.forget(tp)
            if stored.get(partition, -1) >= 0:
                self._lag.committed[tp] = stored[partition]
        self._lag.refresh_soon()

    def revoked(self, topic: str, partitions: Iterable[int]) -> None:
        """Partitions were revoked or lost."""
        for partition in partitions:
            self._assigned.discard((topic, partition))
            self._lag.forget((topic, partition))

    def maybe_refresh_lag(self, consumer: Any) -> None:
        """Publish lag per partition when the refresh interval has passed."""
        self._lag.maybe_refresh(consumer, self._assigned, self._paused)

    # --- readiness ------------------------------------------------------------------------------

    def sink_reachable(self) -> bool:
        """False during an outage; else a recent commit, else a (cached) probe, decides."""
        if self._outage:
            return False
        now = self._clock.monotonic()
        if now - self._last_commit < FRESH_COMMIT_SECONDS or self._probe is None:
            return True
        with self._lock:  # one probe at a time, however many scrapes arrive
            at, ok = self._probed
            if now - at < PROBE_CACHE_SECONDS:
                return ok
            try:
                self._probe()
                ok = True
            except Exception as exc:
                log.info("database probe failed: %s", type(exc).__name__)
                ok = False
            self._probed = (self._clock.monotonic(), ok)
            return ok
