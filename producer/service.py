"""Composition root of `dbsync2 producer`: build the real objects from settings and run a mode.

Exit codes: 0 done (or stopped by SIGTERM/SIGINT after saving state), 1 invalid settings, a
rejected token (401/403) or a failed initial/since run. Confirmed progress is always saved first.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType

import requests
from confluent_kafka import KafkaException
from confluent_kafka import Producer as KafkaProducer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # the typed home of NewTopic (admin re-exports it)
from requests.adapters import HTTPAdapter

from ops.observability.health import Readiness
from ops.observability.json_logs import JsonLogFormatter
from ops.observability.metrics import PipelineMetrics
from ops.observability.service_options import start_health_server
from producer.cli_args import SettingsError, parse_settings
from producer.clock import SystemClock
from producer.dialfire.client import DialfireClient
from producer.dialfire.errors import DialfireAuthError, DialfireError
from producer.engine import Producer, SyncReport
from producer.kafka_config import admin_config, producer_config
from producer.logs import configure_logging
from producer.observe import ProducerObserver
from producer.publisher import KafkaEventPublisher, PublishError
from producer.settings import ServiceSettings
from producer.state import StateStore
from producer.topic_setup import ensure_events_topic
from schemas.codec import default_codec
from schemas.topics import events_topic

log = logging.getLogger("producer")


def build_session(pool_size: int) -> requests.Session:
    """Return a Session whose connection pool fits the concurrent E3 requests."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(4, pool_size * 2), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set `stop` on SIGTERM/SIGINT while inside the block (main thread only)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: finishing the current chunk, then saving state", signum)
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def open_producer(
    settings: ServiceSettings,
    stop: threading.Event | None = None,
    metrics: PipelineMetrics | None = None,
    readiness: Readiness | None = None,
) -> Iterator[Producer]:
    """Build a ready Producer (topic ensured) from settings; flush and close everything on exit.

    With `metrics` / `readiness` it reports API calls, acknowledged events, cycles and the
    checkpoint age, and adds the readiness checks `last_cycle_succeeded` and `kafka_reachable`.

    The entry point for in-process callers such as a legacy runner:

        with open_producer(settings) as producer:
            report = producer.run_initial_load()
    """
    stop = stop or threading.Event()
    campaign = settings.producer.campaign_id
    session = build_session(settings.producer.fetch_in_flight)

    def sleep_unless_stopping(seconds: float) -> None:
        stop.wait(seconds)  # a SIGTERM cuts a long Retry-After short

    api = DialfireClient(
        session,
        campaign,
        settings.token,
        settings.api_url,
        sleep=sleep_unless_stopping,
        on_request=None if metrics is None else metrics.observe_api_call,
    )
    topic = events_topic(campaign)
    admin = AdminClient(admin_config(settings.bootstrap_servers))
    created = ensure_events_topic(
        admin, NewTopic, topic, settings.partitions, settings.retention_ms
    )
    kafka = KafkaProducer(producer_config(settings.bootstrap_servers))
    state = StateStore.open_in(settings.state_dir, campaign)
    producer = Producer(
        settings.producer,
        api,
        KafkaEventPublisher(kafka, topic, default_codec()),
        state,
        SystemClock(),
    )
    producer.stop_event = stop
    if metrics is not None or readiness is not None:
        observer = ProducerObserver(campaign, metrics, readiness, state.checkpoint)
        observer.watch_kafka(kafka, topic)
        producer.observer = observer
    log.info(
        "campaign %s: mode %s, topic %s%s, state %s, api %s",
        campaign, settings.mode, topic, " (created)" if created else "", state.path,
        settings.api_url,
    )  # fmt: skip
    try:
        yield producer
    finally:
        kafka.flush(30)
        state.close()
        session.close()


def run_service(
    settings: ServiceSettings,
    stop: threading.Event,
    metrics: PipelineMetrics | None = None,
    readiness: Readiness | None = None,
) -> int:
    """Run the configured mode until done or stopped; return the exit code."""
    with open_producer(settings, stop, metrics, readiness) as producer:
        report: SyncReport | None = None
        if settings.mode == "initial":
            report = producer.run_initial_load()
        elif settings.mode == "since":
            assert settings.producer.since is not None
            report = producer.run_since(settings.producer.since)
        elif settings.once:
            report = producer.run_cycle()
        else:
            producer.run_continuous(stop)
        if report is not None:
            log.info(
                "%s: %d event(s) published %s, %d contact(s) fetched, completed=%s",
                report.kind, report.total, dict(report.published), report.contacts_fetched,
                report.completed,
            )  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `dbsync2 producer`; returns the process exit code."""
    try:
        settings = parse_settings(sys.argv[1:] if argv is None else argv, os.environ)
    except SettingsError as exc:
        print(f"dbsync2 producer: {exc}", file=sys.stderr)
        return 1
    campaign = settings.producer.campaign_id
    try:
        target = configure_logging(
            campaign, settings.log_dir, settings.log_level, settings.verbose,
            [settings.token], datetime.now(UTC),
        )  # fmt: skip
    except OSError as exc:
        print(f"dbsync2 producer: {exc}", file=sys.stderr)
        return 1
    if settings.observability.log_json:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLogFormatter())
    print(f"Logfile: {target}", flush=True)
    stop = threading.Event()
    metrics, readiness = PipelineMetrics(process_metrics=True), Readiness()
    server = None
    try:
        server = start_health_server(settings.observability, metrics, readiness)
        with stop_on_signals(stop):
            return run_service(settings, stop, metrics, readiness)
    except DialfireAuthError as exc:
        log.error("%s", exc, extra={"console": False})
        print(f"dbsync2 producer: {exc}", file=sys.stderr)
        return 1
    except (DialfireError, PublishError, KafkaException) as exc:
        log.error("campaign %s: stopped: %s", campaign, exc, extra={"console": False})
        print(f"dbsync2 producer: campaign {campaign}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # anything else: full traceback in the log file, one line on stderr
        log.exception("campaign %s: crashed", campaign, extra={"console": False})
        print(f"dbsync2 producer: campaign {campaign}: {type(exc).__name__}: {exc} "
              f"(traceback in {target})", file=sys.stderr)  # fmt: skip
        return 1
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
