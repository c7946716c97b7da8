"""Composition root of `dbsync2 consume webhook`: build real objects, run, return an exit code.

Exit codes: 0 after a clean stop (SIGTERM / SIGINT), 1 for bad configuration (one line on
stderr, no traceback), 2 when the group stops itself (too many dead letters in a row, or Kafka
unusable). Nothing here runs at import time.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import cast
from urllib.parse import urlsplit

import requests
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from requests.adapters import HTTPAdapter

from consumers.runtime.dead_letter import (
    DeadLetterLimit,
    DeadLetterPublisher,
    KafkaProducerLike,
)
from consumers.runtime.kafka_config import consumer_config, producer_config
from consumers.runtime.outcomes import DeadLetterLimitExceeded
from consumers.runtime.topic_setup import ensure_topic
from consumers.webhook.backoff import RetryPolicy
from consumers.webhook.breaker import CircuitBreaker
from consumers.webhook.config import ConfigError, RelayConfig, parse_config
from consumers.webhook.observer import LAG_REFRESH_SECONDS, RelayObserver
from consumers.webhook.rate_limit import TokenBucket
from consumers.webhook.relay import KafkaConsumerLike, RelaySettings, WebhookRelay
from consumers.webhook.scheduler import PendingEvent
from consumers.webhook.sender import SecretRedactor, WebhookSender, describe_url, url_secrets
from consumers.webhook.signing import RequestSigner, decode_signing_key
from ops.observability.health import Readiness
from ops.observability.json_logs import configure_logging
from ops.observability.metrics import PipelineMetrics
from ops.observability.service_options import start_health_server
from schemas.topics import DEAD_LETTERS, dead_letter_topic, events_topic

log = logging.getLogger(__name__)
PROG = "dbsync2 consume webhook"


def kafka_group_id(campaign: str, group: str) -> str:
    """Return the Kafka consumer group id of a relay group: `dbsync2.<campaign>.<group>`."""
    return f"dbsync2.{campaign}.{group}"


def build_session(pool_size: int) -> requests.Session:
    """Return a keep-alive session with one pooled connection per request in flight."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # trust_env stays on: HTTPS_PROXY / NO_PROXY and REQUESTS_CA_BUNDLE (a private CA) work as
    # with any requests-based client.
    return session


def build_sender(config: RelayConfig, session: requests.Session) -> WebhookSender:
    """Return the sender for `config` (also used by `dbsync2 dlq redrive --to-url`)."""
    key = decode_signing_key(config.signing_secret) if config.signing_secret else None
    signer = RequestSigner(key, config.headers)
    secrets = [*url_secrets(config.url), *signer.secret_values().values()]
    if config.signing_secret:
        secrets.append(config.signing_secret)
    return WebhookSender(
        session, config.url, signer, config.timeout_s, config.verify_tls, SecretRedactor(secrets)
    )


def metric_target(url: str) -> str:
    """Return scheme://host[:port] of the endpoint: the breaker metric's label (no path/query)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


def build_relay(
    config: RelayConfig,
    session: requests.Session | None = None,
    metrics: PipelineMetrics | None = None,
    readiness: Readiness | None = None,
    lag_interval: float = LAG_REFRESH_SECONDS,
) -> WebhookRelay:
    """Build a relay with real Kafka clients; creates the dead-letter topic if missing.

    With `metrics` / `readiness` it reports intake, deliveries, lag, retries, dead letters and
    the breaker state, and adds the readiness checks `partitions_assigned` and `breaker_not_open`.
    """
    topic = events_topic(config.campaign)
    dlq_topic = dead_letter_topic(config.campaign, config.group)
    ensure_topic(
        AdminClient({"bootstrap.servers": config.bootstrap_servers}), dlq_topic, DEAD_LETTERS
    )
    consumer = Consumer(
        consumer_config(
            config.bootstrap_servers,
            kafka_group_id(config.campaign, config.group),
            **{"session.timeout.ms": config.session_timeout_ms, "fetch.wait.max.ms": 20},
        )
    )
    producer = Producer(producer_config(config.bootstrap_servers))
    policy = RetryPolicy(
        base_s=config.retry_base_s,
        max_s=config.retry_max_s,
        retry_after_cap_s=config.retry_after_cap_s,
        probe_base_s=config.probe_base_s,
        probe_max_s=config.probe_max_s,
    )
    limit = (
        DeadLetterLimit(max_consecutive=config.max_consecutive_dead_letters, max_ratio=1.0)
        if config.max_consecutive_dead_letters > 0
        else None
    )
    return WebhookRelay(
        # confluent-kafka's own stubs are stricter than the seams' Protocols; the casts only
        # bridge the typing, the objects are the real clients.
        consumer=cast(KafkaConsumerLike, consumer),
        topic=topic,
        sender=build_sender(config, session or build_session(config.in_flight)),
        dead_letters=DeadLetterPublisher(
            cast(KafkaProducerLike, producer), dlq_topic, config.group
        ),
        policy=policy,
        settings=RelaySettings(
            in_flight=config.in_flight,
            max_attempts=config.max_attempts,
            max_buffered=config.max_buffered,
            max_buffered_bytes=config.max_buffered_bytes,
            shutdown_grace_s=config.timeout_s + 5,
        ),
        bucket=TokenBucket(config.rate, config.burst),
        breaker=CircuitBreaker[PendingEvent](config.breaker_threshold),
        dead_letter_limit=limit,
        observer=RelayObserver(
            config.group, metric_target(config.url), metrics, readiness, lag_interval
        ),
    )


def install_stop_signals(stop: threading.Event) -> None:
    """Set `stop` on SIGTERM and SIGINT (main thread only)."""

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def main(argv: list[str], environ: Mapping[str, str] | None = None) -> int:
    """Run `dbsync2 consume webhook` and return its exit code."""
    env = os.environ if environ is None else environ
    try:
        config = parse_config(argv, env)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    configure_logging(
        config.observability.log_json,
        logging.getLevelName(env.get("DBSYNC_LOG_LEVEL", "INFO").upper()),
    )
    stop = threading.Event()
    install_stop_signals(stop)
    metrics, readiness = PipelineMetrics(process_metrics=True), Readiness()
    try:
        server = start_health_server(config.observability, metrics, readiness)
    except OSError as exc:
        print(f"{PROG}: error: cannot serve metrics: {exc}", file=sys.stderr)
        return 1
    try:
        return run_relay(config, stop, metrics, readiness)
    finally:
        if server is not None:
            server.stop()


def run_relay(
    config: RelayConfig, stop: threading.Event, metrics: PipelineMetrics, readiness: Readiness
) -> int:
    """Build the relay and run it until `stop` is set; return the exit code."""
    try:
        relay = build_relay(config, metrics=metrics, readiness=readiness)
    except KafkaException as exc:
        print(f"{PROG}: error: cannot set up Kafka: {exc}", file=sys.stderr)
        return 2
    log.info(
        "relaying %s to %s as group %s (w=%d, wr=%g/s, wb=%g, signing %s)",
        events_topic(config.campaign),
        describe_url(config.url),
        kafka_group_id(config.campaign, config.group),
        config.in_flight,
        config.rate,
        config.burst,
        "on" if config.signing_secret else "off",
    )
    try:
        relay.run(stop)
    except DeadLetterLimitExceeded as exc:
        print(f"{PROG}: stopped: {exc}", file=sys.stderr)
        return 2
    except KafkaException as exc:
        print(f"{PROG}: stopped: Kafka error: {exc}", file=sys.stderr)
        return 2
    return 0
