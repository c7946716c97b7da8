"""`dbsync2 producer --metrics-port` against the simulator: real counters on /metrics, ready."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from schemas.topics import events_topic
from tests.conftest import free_port
from tests.observability.support import get, json_lines, metric, ready, service_process, stop
from tests.producer.conftest import TOKEN, SimHandle
from tests.producer.support import end_offsets
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_producer_serves_metrics_health_and_json_logs(
    start_sim: Callable[..., SimHandle], kafka_bootstrap: str, tmp_path: Path
) -> None:
    sim = start_sim(contacts=60, inbound_calls=10)
    port = free_port()
    topic = events_topic(sim.campaign_id)
    argv = [
        "producer", "--c", sim.campaign_id, "--ct", TOKEN, "--state-dir", str(tmp_path / "state"),
        "--log-dir", str(tmp_path / "log"), "--partitions", "3", "--interval", "1s",
        "--metrics-host", "127.0.0.1", "--log-json",
    ]  # fmt: skip
    env = {
        "DIALFIRE_API_URL": sim.server.url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DBSYNC_METRICS_PORT": str(port),  # the environment variable, not the flag
    }
    with service_process(argv, env, tmp_path / "out.log") as process:
        assert wait_for(lambda: get(port, "/healthz")[0] == 200, 30, message="no /healthz")
        wait_for(lambda: ready(port) == 200, 60, message="never ready after the initial load")
        produced = metric(port, "dbsync2_events_produced_total", campaign=sim.campaign_id)
        # Every event in the topic was counted after Kafka acknowledged it, and nothing else.
        assert produced is not None and produced > 0
        assert produced == sum(end_offsets(kafka_bootstrap, topic).values())
        for endpoint in ("contacts_list", "contacts", "inbound_calls"):
            calls = metric(port, "dbsync2_dialfire_api_calls_total", endpoint=endpoint)
            assert calls is not None and calls >= 1, endpoint
        latency = metric(port, "dbsync2_dialfire_api_seconds_count", endpoint="contacts")
        assert latency is not None and latency >= 1
        last_poll = metric(
            port, "dbsync2_last_successful_poll_timestamp_seconds", service="producer"
        )
        assert last_poll is not None and last_poll > 1.7e9
        # The next poll cycle (1 s later) moves the checkpoint; its age stays small.
        wait_for(
            lambda: (
                (metric(port, "dbsync2_dialfire_api_calls_total", endpoint="transactions") or 0)
                >= 1
            ),
            30,
            message="no poll cycle after the initial load",
        )
        age = metric(port, "dbsync2_checkpoint_age_seconds", campaign=sim.campaign_id)
        assert age is not None and 0 <= age < 30
        body = get(port, "/readyz")[1]
        assert '"last_cycle_succeeded": true' in body and '"kafka_reachable": true' in body
        assert stop(process) == 0
    lines = [
        record
        for log_file in (tmp_path / "log").glob("*.log")
        for record in json_lines(log_file.read_text("utf-8"))
    ]
    assert lines and all({"time", "level", "message"} <= set(r) for r in lines)
    assert not any(TOKEN in str(r) for r in lines)
