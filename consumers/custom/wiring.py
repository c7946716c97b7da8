"""Build the real Kafka clients around a group and run it until stopped (shared by CLI and tests).

The only place a custom group's Consumer and dead-letter Producer are constructed; callers pass
the bootstrap servers, so nothing here reads the environment.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from consumers.runtime.batch_runtime import LAG_REFRESH_SECONDS, BatchRuntime
from consumers.runtime.consumer_seam import KafkaConsumerLike
from consumers.runtime.dead_letter import DeadLetterLimit, DeadLetterPublisher, KafkaProducerLike
from consumers.runtime.group import ConsumerGroup, GroupSpec
from consumers.runtime.kafka_config import consumer_config, producer_config
from consumers.runtime.topic_setup import ensure_topic
from ops.observability.health import Readiness
from ops.observability.metrics import PipelineMetrics
from schemas.topics import DEAD_LETTERS, dead_letter_topic

log = logging.getLogger(__name__)


@dataclass
class RunningGroup:
    """A runtime with the clients it owns; `close` releases them after `run` returned."""

    runtime: BatchRuntime
    consumer: Any
    producer: Any

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set (or the group stops itself by raising)."""
        try:
            self.runtime.run(stop)
        finally:
            self.close()

    def close(self) -> None:
        """Leave the group (no commit happens here) and flush the dead-letter producer."""
        with contextlib.suppress(RuntimeError):  # already closed
            self.consumer.close()
        self.producer.flush(10)


def build_running_group(
    bootstrap: str,
    spec: GroupSpec,
    group: ConsumerGroup,
    *,
    metrics: PipelineMetrics | None = None,
    readiness: Readiness | None = None,
    limit: DeadLetterLimit | None = None,
    consumer_overrides: Mapping[str, Any] | None = None,
    lag_interval: float = LAG_REFRESH_SECONDS,
) -> RunningGroup:
    """Create the dead-letter topic if missing and wire a BatchRuntime with real clients."""
    dlq_topic = dead_letter_topic(spec.campaign, spec.name)
    ensure_topic(AdminClient({"bootstrap.servers": bootstrap}), dlq_topic, DEAD_LETTERS)
    consumer = Consumer(consumer_config(bootstrap, spec.group_id, **dict(consumer_overrides or {})))
    producer = Producer(producer_config(bootstrap))
    publisher = DeadLetterPublisher(cast(KafkaProducerLike, producer), dlq_topic, spec.name)
    runtime = BatchRuntime(
        cast(KafkaConsumerLike, consumer),
        group,
        spec,
        publisher,
        limit=limit,
        metrics=metrics,
        readiness=readiness,
        lag_interval=lag_interval,
    )
    return RunningGroup(runtime, consumer, producer)
