"""Metric definitions, the health server's endpoints and the JSON log formatter."""

from __future__ import annotations

import io
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from ops.observability import HealthServer, JsonLogFormatter, PipelineMetrics, Readiness
from ops.observability.json_logs import configure_logging
from ops.observability.metrics import METRIC_HELP, metric_names


def fetch(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def served() -> Iterator[tuple[PipelineMetrics, Readiness, HealthServer]]:
    metrics = PipelineMetrics(CollectorRegistry())
    readiness = Readiness()
    server = HealthServer(metrics.registry, readiness, port=0).start()
    yield metrics, readiness, server
    server.stop()


def test_every_metric_name_has_help_and_is_exposed(
    served: tuple[PipelineMetrics, Readiness, HealthServer],
) -> None:
    metrics, _, server = served
    metrics.record_consumed("g", 3)
    metrics.record_produced("c", 2)
    metrics.observe_batch("g", 0.02)
    metrics.set_lag("g", "t", 0, 5, 1.5)
    metrics.record_dead_letter("g")
    metrics.record_retry("g", "retryable")
    metrics.set_paused("g", True)
    metrics.set_breaker("g", "https://hook", "open")
    metrics.observe_api_call("contacts", 0.3, error_kind="http_429")
    metrics.mark_poll("producer", 1_800_000_000.0)
    metrics.set_checkpoint_age("c", 12.0)
    status, body = fetch(server.port, "/metrics")
    assert status == 200
    assert set(METRIC_HELP) == set(metric_names())
    for name in metric_names():
        assert f"# HELP {name} " in body, name
    assert 'dbsync2_consumer_lag_messages{group="g",partition="0",topic="t"} 5.0' in body
    assert 'dbsync2_circuit_breaker_state{group="g",target="https://hook"} 2.0' in body
    assert 'dbsync2_dialfire_api_errors_total{endpoint="contacts",kind="http_429"} 1.0' in body


def test_checkpoint_age_is_computed_at_scrape_time() -> None:
    metrics = PipelineMetrics(CollectorRegistry(), process_metrics=True)
    moment: list[datetime | None] = [None]
    metrics.track_checkpoint_age("c", lambda: moment[0])
    sample = metrics.registry.get_sample_value
    assert sample("dbsync2_checkpoint_age_seconds", {"campaign": "c"}) == 0.0
    moment[0] = datetime.now(UTC) - timedelta(seconds=120)
    age = sample("dbsync2_checkpoint_age_seconds", {"campaign": "c"})
    assert age is not None and 119 <= age < 180
    assert sample("process_cpu_seconds_total") is not None


def test_healthz_is_always_ok_and_readyz_follows_checks(
    served: tuple[PipelineMetrics, Readiness, HealthServer],
) -> None:
    _, readiness, server = served
    assert fetch(server.port, "/healthz") == (200, "ok\n")
    assert fetch(server.port, "/readyz")[0] == 503  # nothing registered yet: not ready
    sink_up = {"value": True}
    readiness.add_check("sink_reachable", lambda: sink_up["value"])
    readiness.set_flag("not_paused", True)
    assert fetch(server.port, "/readyz")[0] == 200
    sink_up["value"] = False
    status, body = fetch(server.port, "/readyz")
    assert status == 503
    assert json.loads(body) == {
        "ready": False,
        "checks": {"not_paused": True, "sink_reachable": False},
    }
    assert fetch(server.port, "/nope")[0] == 404


def test_a_raising_readiness_check_means_not_ready() -> None:
    readiness = Readiness()

    def broken() -> bool:
        raise OSError("db unreachable")

    readiness.add_check("sink_reachable", broken)
    assert readiness.evaluate() == {"sink_reachable": False}
    assert not readiness.is_ready()


def test_json_logs_carry_kafka_coordinates_and_ids() -> None:
    record = logging.LogRecord(
        "dbsync2.x", logging.WARNING, __file__, 1, "dead-lettered %s", ("x",), None
    )
    for key, value in {
        "topic": "dbsync2.C.events",
        "partition": 2,
        "offset": 41,
        "contact_id": "K1",
        "event_id": "E1",
    }.items():
        setattr(record, key, value)
    line = json.loads(JsonLogFormatter().format(record))
    assert line["message"] == "dead-lettered x" and line["level"] == "WARNING"
    assert (line["topic"], line["partition"], line["offset"]) == ("dbsync2.C.events", 2, 41)
    assert (line["contact_id"], line["event_id"]) == ("K1", "E1")
    assert line["time"].endswith("+00:00") and "group" not in line


def test_configure_logging_switches_to_json() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(json_format=True, stream=stream)
        logging.getLogger("t").info("hello", extra={"offset": 7})
        assert json.loads(stream.getvalue()) | {"time": ""} == {
            "time": "",
            "level": "INFO",
            "logger": "t",
            "message": "hello",
            "offset": 7,
        }
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
