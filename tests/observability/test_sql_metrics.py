"""`dbsync2 consume sql --metrics-port`: consumption and lag on /metrics; /readyz follows the DB."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from consumers.custom.harness_kafka import messages_of, publish, scratch_campaign
from consumers.custom.sample_events import sample_events
from schemas.topics import events_topic
from tests.conftest import free_port
from tests.observability.support import get, json_lines, metric, ready, service_process, stop
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_sql_group_metrics_lag_and_readiness_through_a_database_outage(
    kafka_bootstrap: str, pg_schema_url: str, tmp_path: Path
) -> None:
    url = sa.make_url(pg_schema_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    group = f"obs{uuid.uuid4().hex[:8]}"
    port = free_port()
    log_path = tmp_path / "sql.log"
    with scratch_campaign(kafka_bootstrap, group) as campaign:
        events = sample_events(campaign)
        first, second = events[:40], events[40:]
        publish(kafka_bootstrap, events_topic(campaign), messages_of(first))
        argv = [
            "consume", "sql", "--url", proxied, "--campaign", campaign, "--group", group,
            "--bootstrap-servers", kafka_bootstrap, "--batch-wait-ms", "100",
            "--metrics-port", str(port), "--metrics-host", "127.0.0.1", "--log-json",
        ]  # fmt: skip
        try:
            with service_process(argv, {}, log_path) as process:

                def consumed() -> float:
                    return metric(port, "dbsync2_events_consumed_total", group=group) or 0

                def lag() -> float | None:
                    return metric(port, "dbsync2_consumer_lag_messages", group=group)

                wait_for(lambda: consumed() == len(first), 60, message="first events not applied")
                wait_for(lambda: ready(port) == 200, 30, message="never ready")
                wait_for(lambda: lag() == 0, 30, message="lag gauge never showed 0")
                batches = metric(port, "dbsync2_batch_seconds_count", group=group)
                assert batches is not None and batches >= 1

                proxy.cut()
                wait_for(lambda: ready(port) == 503, 30, message="still ready without a database")
                assert '"sink_reachable": false' in get(port, "/readyz")[1]
                publish(kafka_bootstrap, events_topic(campaign), messages_of(second))
                wait_for(lambda: lag() == len(second), 30, message="lag did not rise")
                wait_for(
                    lambda: metric(port, "dbsync2_paused", group=group) == 1, 30, message="no pause"
                )
                assert consumed() == len(first)
                lag_seconds = metric(port, "dbsync2_consumer_lag_seconds", group=group)
                assert lag_seconds is not None and lag_seconds > 0

                proxy.restore()
                wait_for(lambda: consumed() == len(events), 60, message="backlog not applied")
                wait_for(lambda: lag() == 0, 30, message="lag did not fall back to 0")
                wait_for(lambda: ready(port) == 200, 30, message="not ready again")
                retries = metric(port, "dbsync2_retries_total", group=group, reason="retryable")
                assert retries is not None and retries >= 1
                assert metric(port, "dbsync2_paused", group=group) == 0
                assert stop(process) == 0
        finally:
            proxy.close()
    records = json_lines(log_path.read_text("utf-8"))
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["level"] == "WARNING" and "database" in str(r["message"]) for r in records)
