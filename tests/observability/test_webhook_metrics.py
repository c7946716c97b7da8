"""`dbsync2 consume webhook --metrics-port`: deliveries, lag and the breaker gauge on /metrics."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from consumers.custom.harness_kafka import messages_of, publish, scratch_campaign
from consumers.custom.sample_events import sample_events
from schemas import TransactionEvent
from schemas.topics import events_topic
from tests.conftest import free_port
from tests.observability.support import get, json_lines, metric, ready, service_process, stop
from tests.support.receiver import WebhookReceiver
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OPEN, CLOSED = 2.0, 0.0


def test_webhook_relay_metrics_breaker_gauge_and_readiness(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    receiver = WebhookReceiver().start()
    group = f"obs{uuid.uuid4().hex[:8]}"
    port = free_port()
    log_path = tmp_path / "webhook.log"
    target = f"http://127.0.0.1:{receiver.port}"
    with scratch_campaign(kafka_bootstrap, group) as campaign:
        events = sample_events(campaign, contacts=6, per_contact=3)
        transactions = sum(isinstance(e, TransactionEvent) for e in events)
        topic = events_topic(campaign)
        publish(kafka_bootstrap, topic, messages_of(events))
        argv = [
            "consume", "webhook", "--url", receiver.url, "--campaign", campaign,
            "--group", group, "--bootstrap-servers", kafka_bootstrap, "--wr", "1000",
            "--timeout-s", "2", "--retry-base-ms", "50", "--retry-max-ms", "200",
            "--probe-interval-ms", "200", "--probe-max-ms", "400", "--breaker-threshold", "3",
        ]  # fmt: skip
        env = {
            "DBSYNC_METRICS_PORT": str(port),
            "DBSYNC_METRICS_HOST": "127.0.0.1",
            "DBSYNC_LOG_JSON": "true",
        }
        try:
            with service_process(argv, env, log_path) as process:

                def delivered() -> float:
                    return metric(port, "dbsync2_webhook_deliveries_total", group=group) or 0

                def breaker() -> float | None:
                    return metric(port, "dbsync2_circuit_breaker_state", group=group, target=target)

                wait_for(lambda: delivered() == transactions, 60, message="not all delivered")
                wait_for(
                    lambda: (
                        metric(port, "dbsync2_events_consumed_total", group=group) == len(events)
                    ),
                    30,
                    message="snapshots were not counted as handled",
                )
                wait_for(lambda: ready(port) == 200, 30, message="never ready")
                assert breaker() == CLOSED
                wait_for(
                    lambda: metric(port, "dbsync2_consumer_lag_messages", group=group) == 0,
                    30,
                    message="lag gauge never showed 0",
                )
                latency = metric(port, "dbsync2_batch_seconds_count", group=group)
                assert latency is not None and latency >= transactions

                receiver.go_down()
                publish(kafka_bootstrap, topic, messages_of(events))
                wait_for(lambda: breaker() == OPEN, 30, message="breaker gauge never open")
                wait_for(lambda: ready(port) == 503, 30, message="ready with the breaker open")
                assert '"breaker_not_open": false' in get(port, "/readyz")[1]
                wait_for(
                    lambda: (metric(port, "dbsync2_consumer_lag_messages", group=group) or 0) > 0,
                    30,
                    message="lag did not rise while the receiver was down",
                )
                retries = metric(port, "dbsync2_retries_total", group=group, reason="retryable")
                assert retries is not None and retries >= 3
                assert metric(port, "dbsync2_dead_letters_total", group=group) in (None, 0)

                receiver.come_up()
                wait_for(lambda: breaker() == CLOSED, 30, message="breaker gauge never closed")
                wait_for(lambda: delivered() == 2 * transactions, 60, message="backlog stuck")
                wait_for(lambda: ready(port) == 200, 30, message="not ready again")
                assert stop(process) == 0
        finally:
            receiver.stop()
    records = json_lines(log_path.read_text("utf-8"))
    assert any("circuit breaker open" in str(r["message"]) for r in records)
    assert "receiver-query-secret" not in log_path.read_text("utf-8")
