"""Report what the batch runtime does to metrics, readiness checks and logs (each optional)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from consumers.runtime.envelope import Envelope
from ops.observability.health import Readiness
from ops.observability.metrics import PipelineMetrics

log = logging.getLogger("consumers.runtime.batch_runtime")


class RuntimeObserver:
    """One group's view on metrics and readiness; every method is a no-op for what is absent."""

    def __init__(
        self,
        group: str,
        metrics: PipelineMetrics | None,
        readiness: Readiness | None,
        assigned: Callable[[], bool],
        sink_ready: Callable[[], bool] | None,
    ) -> None:
        self._group = group
        self.metrics = metrics
        self._readiness = readiness
        if readiness is not None:
            readiness.add_check("partitions_assigned", assigned)
            readiness.set_flag("not_paused", True)
            if sink_ready is not None:
                readiness.add_check("sink_reachable", sink_ready)

    def polled(self, unix_time: float) -> None:
        """A poll succeeded."""
        if self.metrics is not None:
            self.metrics.mark_poll(self._group, unix_time)

    def batch_done(self, handled: int, seconds: float) -> None:
        """A batch was committed."""
        if self.metrics is not None:
            self.metrics.record_consumed(self._group, handled)
            self.metrics.observe_batch(self._group, seconds)

    def retry(self, reason: str) -> None:
        """A batch is retried (retryable, backpressure) or bisected (dead_letter)."""
        if self.metrics is not None:
            self.metrics.record_retry(self._group, reason)

    def paused(self, paused: bool) -> None:
        """The partitions were paused or resumed."""
        if self.metrics is not None:
            self.metrics.set_paused(self._group, paused)
        if self._readiness is not None:
            self._readiness.set_flag("not_paused", not paused)

    def dead_lettered(self, env: Envelope, error_class: str, reason: str) -> None:
        """An event went to the dead-letter topic: count it and log it with its coordinates."""
        if self.metrics is not None:
            self.metrics.record_dead_letter(self._group)
        fields = {
            "topic": env.topic,
            "partition": env.partition,
            "offset": env.offset,
            "contact_id": env.contact_key,
            "event_id": getattr(env.event, "event_id", None),
            "group": self._group,
            "error_class": error_class,
        }
        log.warning(
            "dead-lettered %s[%d]@%d: %s",
            env.topic,
            env.partition,
            env.offset,
            reason,
            extra=fields,
        )
