"""Composition root of `dbsync2 consume sql`: build the engine, Kafka clients and materializer.

Nothing connects or reads the environment at import time. `main(argv)` is the console entry
point; `run_sql_group(settings, stop)` runs the group in-process (the legacy CLI uses it and
learns when it has caught up through the `on_started` callback's SqlMaterializer).
Exit codes: 0 stopped on request, 1 configuration or database-open failure, 2 fatal runtime
error (dead-letter limit exceeded, fatal Kafka error).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import sqlalchemy as sa

from consumers.runtime.dead_letter import DeadLetterLimit, DeadLetterPublisher
from consumers.runtime.kafka_config import consumer_config, producer_config
from consumers.runtime.outcomes import DeadLetterLimitExceeded
from consumers.sql.classify import describe_error, is_configuration_error, is_retryable
from consumers.sql.engine import build_engine
from consumers.sql.materializer import SqlMaterializer
from consumers.sql.observer import LAG_REFRESH_SECONDS, SqlObserver
from consumers.sql.processor import BatchProcessor
from consumers.sql.schema import SchemaManager
from consumers.sql.settings import SettingsError, SqlSettings, parse_settings
from consumers.sql.urls import describe_url, redact_secret
from consumers.sql.writer import BatchWriter
from ops.observability.health import Readiness
from ops.observability.json_logs import JsonLogFormatter
from ops.observability.metrics import PipelineMetrics
from ops.observability.service_options import start_health_server
from schemas.topics import DEAD_LETTERS, dead_letter_topic, events_topic

log = logging.getLogger("dbsync2.sql")

# How long start-up waits for the database before giving up with exit code 1 (a wrong password
# fails fast; an unreachable server gets this long to come up, e.g. in docker-compose).
STARTUP_TIMEOUT_SECONDS = 120.0
TOPIC_TIMEOUT_SECONDS = 30.0
GIL_SWITCH_SECONDS = 0.002


class PasswordFilter(logging.Filter):
    """Replaces the database password in every log record (defence in depth)."""

    def __init__(self, secret: str | None) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the record's message with the password replaced."""
        if self._secret:
            record.msg = redact_secret(record.getMessage(), self._secret)
            record.args = None
        return True


def prepare_schema(
    engine: sa.Engine, settings: SqlSettings, stop: threading.Event
) -> SchemaManager:
    """Create/evolve the tables, waiting for the database to come up (bounded)."""
    schema = SchemaManager(engine, settings.table_prefix)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    delay = 0.5
    while True:
        try:
            schema.ensure_base()
            return schema
        except Exception as exc:
            if is_configuration_error(exc) or not is_retryable(exc):
                raise
            if time.monotonic() > deadline or stop.is_set():
                raise
            error_class, message = describe_error(exc, settings.password)
            log.warning("database not ready (%s: %s); retrying", error_class, message)
            stop.wait(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 10.0)


def database_probe(engine: sa.Engine) -> Callable[[], None]:
    """Return a cheap reachability probe (`SELECT 1`) for readiness checks."""

    def probe() -> None:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    return probe


def run_sql_group(
    settings: SqlSettings,
    stop: threading.Event,
    on_started: Callable[[SqlMaterializer], None] | None = None,
    metrics: PipelineMetrics | None = None,
    readiness: Readiness | None = None,
    lag_interval: float = LAG_REFRESH_SECONDS,
) -> None:
    """Run the SQL materializer until `stop` is set; raise on a fatal error.

    With `metrics` / `readiness` it reports consumption, lag, dead letters, retries and pauses,
    and adds the readiness checks `partitions_assigned`, `sink_reachable` and `not_paused`.
    """
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient

    from consumers.runtime.topic_setup import ensure_topic

    log.info(
        "consume sql: campaign %s, group %s, database %s, table prefix %r",
        settings.campaign,
        settings.group,
        describe_url(settings.url),
        settings.table_prefix,
    )
    # The loop and the writer thread hand the GIL back and forth at every database call; with
    # the default 5 ms switch interval each hand-back waited up to 5 ms (~13 % of throughput).
    # Process-wide and left so (other groups or the legacy CLI's producer may share the process;
    # a shorter interval costs them nothing measurable).
    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_SECONDS))
    engine = build_engine(settings)
    probe = database_probe(engine)
    observer = SqlObserver(settings.group, metrics, readiness, probe, lag_interval)
    try:
        schema = prepare_schema(engine, settings, stop)
        topic = events_topic(settings.campaign)
        dlq_topic = dead_letter_topic(settings.campaign, settings.group)
        if settings.create_dead_letter_topic:
            admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
            if ensure_topic(admin, dlq_topic, DEAD_LETTERS, TOPIC_TIMEOUT_SECONDS):
                log.info("created dead-letter topic %s", dlq_topic)
        producer: Any = Producer(producer_config(settings.bootstrap_servers))
        config = consumer_config(
            settings.bootstrap_servers,
            settings.group,
            **{"session.timeout.ms": settings.session_timeout_ms},
        )
        consumer: Any = Consumer(config)
        writer = BatchWriter(engine, schema, settings.group)
        processor = BatchProcessor(
            writer,
            DeadLetterPublisher(producer, dlq_topic, settings.group),
            DeadLetterLimit(max_consecutive=settings.max_consecutive_dead_letters),
            settings.password,
        )
        materializer = SqlMaterializer(
            consumer=consumer,
            processor=processor,
            read_offsets=writer.read_offsets,
            make_partition=TopicPartition,
            topic=topic,
            batch_size=settings.batch_size,
            batch_wait_seconds=settings.batch_wait_ms / 1000.0,
            secret=settings.password,
            cooperative=config["partition.assignment.strategy"] == "cooperative-sticky",
            observer=observer,
        )
        if on_started is not None:
            on_started(materializer)
        try:
            materializer.run(stop)
        finally:
            consumer.close()
            producer.flush(TOPIC_TIMEOUT_SECONDS)
            log.info(
                "stopped: %d events applied, %d rows written, %d dead letters",
                materializer.events_applied,
                materializer.rows_written,
                materializer.dead_letters,
            )
    finally:
        engine.dispose()


def configure_logging(secret: str | None, json_format: bool = False) -> None:
    """Log to stderr (plain lines or JSON); every record passes the password filter."""
    handler = logging.StreamHandler(sys.stderr)
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JsonLogFormatter() if json_format else plain)
    handler.addFilter(PasswordFilter(secret))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("DBSYNC_LOG_LEVEL", "INFO").upper())


def main(argv: list[str]) -> int:
    """Run `dbsync2 consume sql` and return its exit code."""
    try:
        settings = parse_settings(argv, os.environ)
    except SettingsError as exc:
        print(f"dbsync2 consume sql: {exc}", file=sys.stderr)
        return 1
    configure_logging(settings.password, settings.observability.log_json)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    metrics, readiness = PipelineMetrics(process_metrics=True), Readiness()
    server = None
    try:
        server = start_health_server(settings.observability, metrics, readiness)
        run_sql_group(settings, stop, metrics=metrics, readiness=readiness)
    except DeadLetterLimitExceeded as exc:
        log.error("stopping: %s", exc)
        return 2
    except sa.exc.SQLAlchemyError as exc:
        error_class, message = describe_error(exc, settings.password)
        log.error("database error: %s: %s", error_class, message)
        return 1
    except Exception as exc:
        log.error("fatal: %s: %s", type(exc).__name__, redact_secret(str(exc), settings.password))
        return 2
    finally:
        if server is not None:
            server.stop()
    return 0
