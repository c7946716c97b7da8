"""`dbsync2 --a webhook` as a process: delivers to a local receiver, stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.truth.oracle import fetch_truth
from tests.cli.cli_process import start_cli
from tests.cli.conftest import (
    SIM_TOKEN,
    RunningSimulator,
    delete_campaign_topics,
    start_simulator,
)
from tests.support.receiver import WebhookReceiver
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_simulator(unique_id: str, request: pytest.FixtureRequest) -> Iterator[RunningSimulator]:
    """A campaign of 20 contacts with about two changes per second."""
    campaign_id = f"HOOK{unique_id}"
    server: Any = start_simulator(campaign_id, contacts=20, rate=2.0)
    try:
        yield RunningSimulator(server.url, campaign_id, SIM_TOKEN, server)
    finally:
        server.stop()
        delete_campaign_topics(request, campaign_id)


def start_webhook(
    sim: RunningSimulator, url: str, kafka: str, tmp_path: Path, *extra: str
) -> subprocess.Popen[str]:
    args = ["--a", "webhook", "--c", sim.campaign_id, "--ct", sim.token, "--url", url,
            "--api-url", sim.url, "--state-dir", str(tmp_path / "state"),
            "--log-dir", str(tmp_path / "logs"), "--poll-interval", "1", *extra]  # fmt: skip
    return start_cli(args, tmp_path, {"KAFKA_BOOTSTRAP_SERVERS": kafka})


def stop_and_collect(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    return process.returncode, stdout, stderr


def test_webhook_from_a_start_date_delivers_every_transaction_then_stops_on_sigterm(
    simulator: RunningSimulator,
    receiver: WebhookReceiver,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    truth = fetch_truth(simulator.url, simulator.token)
    expected = {
        (str(contact["$id"]), str(tx["fired"]))
        for contact in truth["contacts"]
        for entry in contact.get("$task_log") or []
        for tx in entry.get("transactions") or []
    }
    # --wr 100: the default 5 requests/s would make this test wait for the rate limiter.
    process = start_webhook(
        simulator, receiver.url, kafka_bootstrap, tmp_path, "--s", "2000-01-01", "--wr", "100"
    )
    try:

        def delivered() -> set[tuple[str, str]]:
            return {(r.contact_id, str(r.payload["transaction"]["fired"]))
                    for r in receiver.delivered()}  # fmt: skip

        wait_for(lambda: delivered() >= expected or process.poll() is not None, timeout=180,
                 message="not every transaction reached the receiver")  # fmt: skip
    finally:
        rc, stdout, stderr = stop_and_collect(process)
    assert delivered() == expected
    first = receiver.delivered()[0].payload
    assert set(first) == {"contact", "transaction", "state"}
    assert "$task_log" not in first["contact"]
    assert {r.payload["state"] for r in receiver.delivered()} <= {"new", "updated"}
    assert rc == 0, stderr
    assert "Traceback" not in stderr
    assert "stopped cleanly" in stdout
    logged = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    query_secret = receiver.url.partition("token=")[2]
    assert query_secret
    assert query_secret not in stdout + stderr + logged


def test_webhook_without_a_start_date_relays_only_future_changes(
    live_simulator: RunningSimulator,
    receiver: WebhookReceiver,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    before = fetch_truth(live_simulator.url, live_simulator.token)
    history = {
        (str(c["$id"]), str(tx["fired"]))
        for c in before["contacts"]
        for entry in c.get("$task_log") or []
        for tx in entry.get("transactions") or []
    }
    process = start_webhook(live_simulator, receiver.url, kafka_bootstrap, tmp_path)
    try:
        wait_for(lambda: len(receiver.delivered()) >= 3 or process.poll() is not None,
                 timeout=120, message="no live change reached the receiver")  # fmt: skip
    finally:
        rc, _stdout, stderr = stop_and_collect(process)
    assert rc == 0, stderr
    sent = [(r.contact_id, str(r.payload["transaction"]["fired"]), r.payload["state"])
            for r in receiver.delivered()]  # fmt: skip
    assert len(sent) >= 3
    # History is not re-sent: an old transaction only comes again as an update.
    assert all(state == "updated" for cid, fired, state in sent if (cid, fired) in history)
    assert len(sent) < len(history)
