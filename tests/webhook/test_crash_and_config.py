"""A SIGKILLed relay loses nothing after a restart; bad configuration fails fast and clearly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.receiver import WebhookReceiver
from tests.support.waiting import wait_for
from tests.webhook.helpers import FAST_FLAGS, Campaign, make_transaction, produce_events

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def start_relay(campaign: Campaign, url: str, *flags: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "dbsync2.cli", "consume", "webhook", "--url", url,
            "--campaign", campaign.id, "--bootstrap-servers", campaign.bootstrap,
            *FAST_FLAGS, *flags]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBSYNC_")}
    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip


@pytest.mark.slow
def test_sigkill_mid_flight_then_restart_delivers_everything(
    campaign: Campaign, receiver: WebhookReceiver
) -> None:
    receiver.set_latency(0.02, 0.08)
    events = [make_transaction(campaign.id, f"c{i % 30}", i) for i in range(600)]
    produce_events(campaign.bootstrap, campaign.topic, events)
    first = start_relay(campaign, receiver.url, "--w", "16")
    try:
        wait_for(lambda: len(receiver.delivered()) >= 150, timeout=60, message="no progress")
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
    finally:
        first.kill()
        first.wait()
    delivered_before_crash = len(receiver.delivered())
    assert delivered_before_crash < len(events), "the relay finished before it was killed"
    second = start_relay(campaign, receiver.url, "--w", "16")
    try:
        wanted = {e.event_id for e in events}
        wait_for(lambda: wanted <= receiver.delivered_event_ids(), timeout=120,
                 message="events lost after the crash")  # fmt: skip
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0
    by_id = {e.event_id: e for e in events}
    for request in receiver.delivered():
        # Every delivery, duplicate or not, is the same event under the same id and body.
        event = by_id[request.event_id]
        assert request.headers["webhook-id"] == event.event_id
        assert request.payload == event.webhook_payload()
    assert receiver.delivered_event_ids() == set(by_id)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--url", "ftp://example.com/x"], "--url must be an http or https URL, not ftp://"),
        (["--url", "http://127.0.0.1:1/x", "--signing-secret-file", "/nonexistent/secret"],
         "cannot read --signing-secret-file /nonexistent/secret: No such file or directory"),
        (["--url", "https://user:pw-secret@example.com/x", "--w", "0"], "--w must be at least 1"),
        (["--url", "http://127.0.0.1:1/x", "--header", "Content-Type: text/plain"],
         "--header may not set Content-Type: the relay sets it itself"),
    ],
)  # fmt: skip
def test_bad_configuration_exits_1_with_one_clear_line(
    flags: list[str], message: str, tmp_path: Path
) -> None:
    argv = [sys.executable, "-m", "dbsync2.cli", "consume", "webhook", "--campaign", "C",
            "--bootstrap-servers", "127.0.0.1:1", *flags]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBSYNC_")}
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [f"dbsync2 consume webhook: error: {message}"]
    assert "pw-secret" not in done.stderr
