"""The shared observability flags, the services' observers and the Dialfire client's hook."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from prometheus_client import CollectorRegistry

from consumers.sql.observer import SqlObserver
from consumers.sql.settings import SettingsError as SqlSettingsError
from consumers.sql.settings import parse_settings as parse_sql_settings
from consumers.webhook.breaker import ProbeSchedule
from consumers.webhook.config import ConfigError
from consumers.webhook.config import parse_config as parse_webhook_config
from ops.observability import PipelineMetrics, Readiness
from ops.observability.metrics import BreakerState
from ops.observability.service_options import ObservabilityOptions, start_health_server
from producer.cli_args import SettingsError as ProducerSettingsError
from producer.cli_args import parse_settings as parse_producer_settings
from producer.dialfire.client import DialfireClient
from producer.dialfire.retry import RetryPolicy
from producer.observe import ProducerObserver
from tests.producer.scripted_http import Reply, ScriptedServer

PRODUCER = ["--c", "C1", "--ct", "tok"]
SQL = ["--url", "postgres://u:p@db/x", "--campaign", "C1"]
WEBHOOK = ["--url", "http://hook.example/x", "--campaign", "C1", "--bootstrap-servers", "k:9092"]


def test_every_service_parses_the_flags_and_the_environment() -> None:
    env = {
        "DBSYNC_METRICS_PORT": "9400",
        "DBSYNC_METRICS_HOST": "127.0.0.1",
        "DBSYNC_LOG_JSON": "1",
    }
    expected = ObservabilityOptions(9400, "127.0.0.1", True)
    assert parse_producer_settings(PRODUCER, env).observability == expected
    assert parse_sql_settings(SQL, env).observability == expected
    assert parse_webhook_config(WEBHOOK, env).observability == expected
    flags = ["--metrics-port", "9500", "--metrics-host", "::1", "--log-json"]
    options = ObservabilityOptions(9500, "::1", True)
    assert parse_producer_settings(PRODUCER + flags, {}).observability == options
    assert parse_sql_settings(SQL + flags, {}).observability == options
    assert parse_webhook_config(WEBHOOK + flags, {}).observability == options
    off = ObservabilityOptions(0, "0.0.0.0", False)  # default: no server, plain logs
    assert parse_producer_settings(PRODUCER, {}).observability == off
    assert parse_sql_settings(SQL, {}).observability == off
    assert parse_webhook_config(WEBHOOK, {}).observability == off


@pytest.mark.parametrize("bad", ["abc", "70000", "-1"])
def test_a_bad_metrics_port_is_a_configuration_error(bad: str) -> None:
    with pytest.raises(ProducerSettingsError, match="port"):
        parse_producer_settings([*PRODUCER, "--metrics-port", bad], {})
    with pytest.raises(SqlSettingsError, match="port"):
        parse_sql_settings(SQL, {"DBSYNC_METRICS_PORT": bad})
    with pytest.raises(ConfigError, match="port"):
        parse_webhook_config([*WEBHOOK, "--metrics-port", bad], {})


def test_port_zero_starts_no_server() -> None:
    metrics = PipelineMetrics(CollectorRegistry())
    assert start_health_server(ObservabilityOptions(), metrics, Readiness()) is None


def test_dialfire_client_reports_every_attempt_per_endpoint() -> None:
    calls: list[tuple[str, str | None]] = []
    page = {"results": [], "cursor": ""}
    with ScriptedServer(Reply(503), Reply(200, page)) as server:
        client = DialfireClient(
            requests.Session(), "C1", "tok", server.url,
            retry=RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0),
            on_request=lambda endpoint, seconds, kind: calls.append((endpoint, kind)),
        )  # fmt: skip
        assert list(client.iter_inbound_calls("2026-01-01", None)) == [[]]
    assert calls == [("inbound_calls", "http_503"), ("inbound_calls", None)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1.8e9 + self.now


def test_sql_readiness_uses_recent_commits_then_a_cached_probe() -> None:
    clock, probes = FakeClock(), []
    healthy = True

    def probe() -> None:
        probes.append(clock.now)
        if not healthy:
            raise OSError("connection refused")

    readiness = Readiness()
    observer = SqlObserver("sql", None, readiness, probe, clock=clock)
    assert readiness.evaluate() == {
        "partitions_assigned": False, "sink_reachable": True, "not_paused": True,
    }  # fmt: skip
    assert probes == [1000.0]  # nothing committed yet: the probe decided
    observer.assigned("t", [0], {0: 5})
    clock.now += 3
    observer.committed([], 0, 0, 0.01)
    assert readiness.is_ready() and probes == [1000.0]  # a fresh commit needs no probe
    clock.now += 10
    healthy = False
    assert not readiness.is_ready() and probes == [1000.0, 1013.0]
    assert not observer.sink_reachable() and len(probes) == 2  # cached
    clock.now += 3
    healthy = True
    assert readiness.is_ready() and probes == [1000.0, 1013.0, 1016.0]
    observer.outage("OperationalError")
    observer.paused(True)
    assert readiness.evaluate()["sink_reachable"] is False
    assert readiness.evaluate()["not_paused"] is False


def test_probe_schedule_reports_open_half_open_and_closed() -> None:
    states: list[BreakerState] = []
    probes = ProbeSchedule(lambda failures, _after: 1.0 + failures, states.append)
    probes.opened(10.0)
    assert not probes.due(10.5) and probes.due(11.0)
    probes.started()
    assert not probes.due(99.0)
    probes.returned(probe=True)
    probes.failed(11.2, None)
    assert probes.next_at == pytest.approx(13.2)
    probes.closed()
    assert states == ["open", "half_open", "open", "closed"]


def test_producer_readiness_follows_the_last_cycle() -> None:
    metrics, readiness = PipelineMetrics(CollectorRegistry()), Readiness()
    checkpoint: list[datetime | None] = [None]
    observer = ProducerObserver("C1", metrics, readiness, lambda: checkpoint[0], now=lambda: 1e9)
    assert readiness.evaluate() == {"last_cycle_succeeded": False}
    observer.produced(7)
    checkpoint[0] = datetime(2026, 3, 1, tzinfo=UTC)
    observer.cycle_finished(True)
    assert readiness.is_ready()
    registry = metrics.registry
    assert registry.get_sample_value("dbsync2_events_produced_total", {"campaign": "C1"}) == 7
    poll = {"service": "producer"}
    assert registry.get_sample_value("dbsync2_last_successful_poll_timestamp_seconds", poll) == 1e9
    age = registry.get_sample_value("dbsync2_checkpoint_age_seconds", {"campaign": "C1"})
    assert age is not None and age > 0
    observer.cycle_finished(False)
    assert not readiness.is_ready()
