"""With real Kafka and PostgreSQL: /metrics shows lag rising while the database is cut off and
falling after it returns; /readyz is not ready meanwhile; nothing is lost."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from consumers.custom.harness_kafka import messages_of, publish, scratch_campaign
from consumers.custom.sample_events import sample_events
from consumers.custom.wiring import build_running_group
from consumers.runtime.group import GroupSpec, RetryPolicy
from examples.agent_daily_stats import AgentDailyStats
from ops.observability import HealthServer, PipelineMetrics, Readiness
from schemas.topics import events_topic
from tests.custom.harnesses import AgentDailyStatsHarness
from tests.ops.tcp_proxy import TcpProxy
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def lag(port: int, metric: str) -> float:
    """Sum a metric's samples over all label sets, read from /metrics as a scraper would."""
    _, body = get(port, "/metrics")
    return sum(
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == metric
    )


def test_lag_and_readiness_follow_a_database_outage(
    kafka_bootstrap: str, pg_schema_url: str
) -> None:
    url = sa.make_url(pg_schema_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    engine = sa.create_engine(
        url.set(host="127.0.0.1", port=proxy.port),
        pool_pre_ping=True,
        connect_args={"connect_timeout": 2},
    )
    metrics, readiness = PipelineMetrics(CollectorRegistry()), Readiness()
    server = HealthServer(metrics.registry, readiness, port=0).start()
    stop = threading.Event()
    with scratch_campaign(kafka_bootstrap, "stats") as campaign:
        events = sample_events(campaign)
        topic = events_topic(campaign)
        publish(kafka_bootstrap, topic, messages_of(events[:30]))
        spec = GroupSpec(
            "stats",
            campaign,
            batch_size=10,
            max_wait=0.2,
            retry=RetryPolicy(initial_delay=0.1, max_delay=0.5),
        )
        running = build_running_group(
            kafka_bootstrap,
            spec,
            AgentDailyStats(engine=engine),
            metrics=metrics,
            readiness=readiness,
            lag_interval=0.2,
        )
        thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
        thread.start()
        try:
            lag_messages = "dbsync2_consumer_lag_messages"
            wait_for(lambda: get(server.port, "/readyz")[0] == 200, 60, message="never ready")
            wait_for(
                lambda: lag(server.port, "dbsync2_events_consumed_total") == 30,
                60,
                message="the first 30 events were not handled",
            )
            wait_for(lambda: lag(server.port, lag_messages) == 0, 30, message="no catch-up")

            proxy.down()
            publish(kafka_bootstrap, topic, messages_of(events[30:60]))
            wait_for(lambda: get(server.port, "/readyz")[0] == 503, 30, message="still ready")
            wait_for(lambda: lag(server.port, lag_messages) == 30, 30, message="lag not 30")
            first_age = lag(server.port, "dbsync2_consumer_lag_seconds")
            publish(kafka_bootstrap, topic, messages_of(events[60:]))
            wait_for(
                lambda: lag(server.port, lag_messages) == len(events) - 30,
                30,
                message="lag did not keep rising",
            )
            wait_for(
                lambda: lag(server.port, "dbsync2_consumer_lag_seconds") > first_age,
                30,
                message="lag in seconds did not rise",
            )
            status, body = get(server.port, "/readyz")
            assert status == 503 and '"not_paused": false' in body

            proxy.up()
            wait_for(lambda: lag(server.port, lag_messages) == 0, 60, message="lag never fell")
            wait_for(lambda: get(server.port, "/readyz")[0] == 200, 30, message="not ready again")
            assert lag(server.port, "dbsync2_consumer_lag_seconds") == 0
        finally:
            stop.set()
            thread.join(timeout=30)
            server.stop()
            proxy.down()
    harness = AgentDailyStatsHarness(sa.create_engine(pg_schema_url))
    assert harness.snapshot() == harness.expected(events)
    retries = metrics.registry.get_sample_value(
        "dbsync2_retries_total", {"group": "stats", "reason": "retryable"}
    )
    assert retries is not None and retries >= 1
