"""Define every dbsync2 Prometheus metric once, with typed names, and record values into them.

One `PipelineMetrics` per process, usually on prometheus_client's default registry; tests pass a
fresh `CollectorRegistry` so instances never collide. Label sets are small and bounded (group,
topic, partition, endpoint): never a contact id or an event id.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

MetricName = Literal[
    "dbsync2_events_consumed_total",
    "dbsync2_events_produced_total",
    "dbsync2_batch_seconds",
    "dbsync2_consumer_lag_messages",
    "dbsync2_consumer_lag_seconds",
    "dbsync2_dead_letters_total",
    "dbsync2_retries_total",
    "dbsync2_paused",
    "dbsync2_circuit_breaker_state",
    "dbsync2_dialfire_api_calls_total",
    "dbsync2_dialfire_api_errors_total",
    "dbsync2_dialfire_api_seconds",
    "dbsync2_last_successful_poll_timestamp_seconds",
    "dbsync2_checkpoint_age_seconds",
]

METRIC_HELP: Final[dict[MetricName, str]] = {
    "dbsync2_events_consumed_total": "Events a consumer group handled (committed or about to be).",
    "dbsync2_events_produced_total": "Events the producer published and Kafka acknowledged.",
    "dbsync2_batch_seconds": "Time from handing a batch to the sink until its offsets committed.",
    "dbsync2_consumer_lag_messages": "Messages between the group's position and the end offset.",
    "dbsync2_consumer_lag_seconds": "Age of the oldest message the group has not consumed yet.",
    "dbsync2_dead_letters_total": "Events sent to the group's dead-letter topic.",
    "dbsync2_retries_total": "Batch retries, by reason (retryable, backpressure, dead_letter).",
    "dbsync2_paused": "1 while the group's partitions are paused (sink outage or backpressure).",
    "dbsync2_circuit_breaker_state": "Circuit breaker per target: 0 closed, 1 half-open, 2 open.",
    "dbsync2_dialfire_api_calls_total": "Requests to the Dialfire API, by endpoint.",
    "dbsync2_dialfire_api_errors_total": "Failed Dialfire API requests, by endpoint and kind.",
    "dbsync2_dialfire_api_seconds": "Dialfire API request latency, by endpoint.",
    "dbsync2_last_successful_poll_timestamp_seconds": "Unix time of the last successful poll.",
    "dbsync2_checkpoint_age_seconds": "Seconds between now and the producer's checkpoint.",
}

BreakerState = Literal["closed", "half_open", "open"]
_BREAKER_VALUE: Final[dict[BreakerState, int]] = {"closed": 0, "half_open": 1, "open": 2}

# Batch latency buckets: a healthy SQL batch takes 5-200 ms; minutes mean an outage with retries.
_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_API_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class PipelineMetrics:
    """All dbsync2 metrics in one registry, with one recording method per fact."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, process_metrics: bool = False
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        if process_metrics:  # process_cpu_seconds_total, process_resident_memory_bytes, ...
            ProcessCollector(registry=reg)

        def counter(name: MetricName, labels: tuple[str, ...]) -> Any:
            # prometheus_client appends `_total` to counters itself; declare the base name.
            return Counter(name.removesuffix("_total"), METRIC_HELP[name], labels, registry=reg)

        def gauge(name: MetricName, labels: tuple[str, ...]) -> Any:
            return Gauge(name, METRIC_HELP[name], labels, registry=reg)

        def histogram(name: MetricName, labels: tuple[str, ...], buckets: tuple[float, ...]) -> Any:
            return Histogram(name, METRIC_HELP[name], labels, buckets=buckets, registry=reg)

        part = ("group", "topic", "partition")
        self.consumed = counter("dbsync2_events_consumed_total", ("group",))
        self.produced = counter("dbsync2_events_produced_total", ("campaign",))
        self.batch_seconds = histogram("dbsync2_batch_seconds", ("group",), _BATCH_BUCKETS)
        self.lag_messages = gauge("dbsync2_consumer_lag_messages", part)
        self.lag_seconds = gauge("dbsync2_consumer_lag_seconds", part)
        self.dead_letters = counter("dbsync2_dead_letters_total", ("group",))
        self.retries = counter("dbsync2_retries_total", ("group", "reason"))
        self.paused = gauge("dbsync2_paused", ("group",))
        self.breaker = gauge("dbsync2_circuit_breaker_state", ("group", "target"))
        self.api_calls = counter("dbsync2_dialfire_api_calls_total", ("endpoint",))
        self.api_errors = counter("dbsync2_dialfire_api_errors_total", ("endpoint", "kind"))
        self.api_seconds = histogram("dbsync2_dialfire_api_seconds", ("endpoint",), _API_BUCKETS)
        self.last_poll = gauge("dbsync2_last_successful_poll_timestamp_seconds", ("service",))
        self.checkpoint_age = gauge("dbsync2_checkpoint_age_seconds", ("campaign",))

    # --- consumers ----------------------------------------------------------------------------

    def record_consumed(self, group: str, count: int) -> None:
        """Count `count` events a group handled."""
        self.consumed.labels(group).inc(count)

    def observe_batch(self, group: str, seconds: float) -> None:
        """Record how long one batch took from hand-over to commit."""
        self.batch_seconds.labels(group).observe(seconds)

    def set_lag(
        self, group: str, topic: str, partition: int, messages: int, seconds: float
    ) -> None:
        """Set a partition's lag in messages and in seconds."""
        self.lag_messages.labels(group, topic, str(partition)).set(messages)
        self.lag_seconds.labels(group, topic, str(partition)).set(seconds)

    def forget_partition(self, group: str, topic: str, partition: int) -> None:
        """Drop a revoked partition's lag series (another instance reports it now)."""
        for metric in (self.lag_messages, self.lag_seconds):
            with contextlib.suppress(KeyError):
                metric.remove(group, topic, str(partition))

    def record_dead_letter(self, group: str) -> None:
        """Count one dead-lettered event."""
        self.dead_letters.labels(group).inc()

    def record_retry(self, group: str, reason: str) -> None:
        """Count one retry of a batch."""
        self.retries.labels(group, reason).inc()

    def set_paused(self, group: str, paused: bool) -> None:
        """Say whether the group's partitions are paused."""
        self.paused.labels(group).set(1 if paused else 0)

    def set_breaker(self, group: str, target: str, state: BreakerState) -> None:
        """Publish a circuit breaker's state."""
        self.breaker.labels(group, target).set(_BREAKER_VALUE[state])

    def mark_poll(self, service: str, unix_time: float) -> None:
        """Record the time of the last successful poll (Kafka poll or Dialfire poll)."""
        self.last_poll.labels(service).set(unix_time)

    # --- producer -----------------------------------------------------------------------------

    def record_produced(self, campaign: str, count: int) -> None:
        """Count events Kafka acknowledged."""
        self.produced.labels(campaign).inc(count)

    def observe_api_call(
        self, endpoint: str, seconds: float, error_kind: str | None = None
    ) -> None:
        """Record one Dialfire API request; `error_kind` (e.g. "http_429", "timeout") if failed."""
        self.api_calls.labels(endpoint).inc()
        self.api_seconds.labels(endpoint).observe(seconds)
        if error_kind is not None:
            self.api_errors.labels(endpoint, error_kind).inc()

    def set_checkpoint_age(self, campaign: str, seconds: float) -> None:
        """Publish how far the producer's checkpoint is behind now."""
        self.checkpoint_age.labels(campaign).set(max(0.0, seconds))

    def track_checkpoint_age(
        self, campaign: str, checkpoint: Callable[[], datetime | None]
    ) -> None:
        """Compute the checkpoint age at every scrape from `checkpoint()` (None counts as 0)."""

        def age() -> float:
            moment = checkpoint()
            return 0.0 if moment is None else max(0.0, time.time() - moment.timestamp())

        self.checkpoint_age.labels(campaign).set_function(age)


def metric_names() -> tuple[str, ...]:
    """Return every metric name dbsync2 defines."""
    return get_args(MetricName)
