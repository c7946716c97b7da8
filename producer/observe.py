"""Report the producer's work to metrics and readiness: events acknowledged, cycles, checkpoint.

Readiness of the producer = its last run or cycle succeeded (none has yet at start-up, so a long
initial load is "not ready" until it completes) and Kafka answers a metadata request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ops.observability.health import Readiness
from ops.observability.metrics import PipelineMetrics

log = logging.getLogger(__name__)

SERVICE = "producer"
KAFKA_PROBE_TIMEOUT_SECONDS = 2.0


class ProducerObserver:
    """The producer engine's CycleObserver; also owns its readiness checks."""

    def __init__(
        self,
        campaign: str,
        metrics: PipelineMetrics | None,
        readiness: Readiness | None,
        checkpoint: Callable[[], datetime | None],
        now: Callable[[], float] = time.time,
    ) -> None:
        self._campaign = campaign
        self._metrics = metrics
        self._readiness = readiness
        self._read_checkpoint = checkpoint
        self._now = now
        # Read on the producer's thread only: the health server never touches the state file.
        self._checkpoint = checkpoint()
        if metrics is not None:
            metrics.track_checkpoint_age(campaign, lambda: self._checkpoint)
        if readiness is not None:
            readiness.set_flag("last_cycle_succeeded", False)

    def watch_kafka(self, kafka: Any, topic: str) -> None:
        """Add the `kafka_reachable` readiness check (a metadata request for the topic)."""
        if self._readiness is None:
            return

        def reachable() -> bool:
            metadata = kafka.list_topics(topic=topic, timeout=KAFKA_PROBE_TIMEOUT_SECONDS)
            return bool(metadata.brokers)

        self._readiness.add_check("kafka_reachable", reachable)

    def produced(self, count: int) -> None:
        """`count` events were acknowledged by Kafka."""
        if self._metrics is not None:
            self._metrics.record_produced(self._campaign, count)

    def cycle_finished(self, succeeded: bool) -> None:
        """A run or cycle completed, or failed (the next one covers its window again)."""
        if succeeded:
            self._checkpoint = self._read_checkpoint()
            if self._metrics is not None:
                self._metrics.mark_poll(SERVICE, self._now())
        if self._readiness is not None:
            self._readiness.set_flag("last_cycle_succeeded", succeeded)
        log.debug("cycle finished, succeeded=%s", succeeded, extra={"campaign": self._campaign})
