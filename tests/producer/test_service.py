"""`dbsync2 producer` as a process: SIGKILL mid-cycle and restart, SIGTERM, and a revoked token."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from schemas.topics import events_topic
from simulator.faults import FaultConfig
from tests.producer.conftest import FORBIDDEN, TOKEN, SimHandle
from tests.producer.support import (
    assert_topic_matches_truth,
    end_offsets,
    entity_of,
    expected_entities,
    read_topic,
)
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]


def start_producer(
    sim: SimHandle, bootstrap: str, tmp_path: Path, *extra: str, token: str = TOKEN
) -> subprocess.Popen[str]:
    env = dict(os.environ, DIALFIRE_API_URL=sim.server.url, KAFKA_BOOTSTRAP_SERVERS=bootstrap)
    env.pop("DBSYNC_CT", None)
    argv = [
        sys.executable, "-m", "dbsync2.cli", "producer", "--c", sim.campaign_id, "--ct", token,
        "--state-dir", str(tmp_path / "state"), "--log-dir", str(tmp_path / "log"),
        "--partitions", "3", *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def published(bootstrap: str, topic: str) -> int:
    try:
        return sum(end_offsets(bootstrap, topic).values())
    except (KeyError, KafkaException):  # topic not created yet, or leaders not elected yet
        return 0


def settled_published(bootstrap: str, topic: str, quiet_seconds: float = 1.0) -> int:
    """Return the topic's message count once it has not changed for `quiet_seconds`."""
    seen = {"count": published(bootstrap, topic), "since": time.monotonic()}

    def settled() -> bool:
        count = published(bootstrap, topic)
        if count != seen["count"]:
            seen.update(count=count, since=time.monotonic())
        return time.monotonic() - seen["since"] >= quiet_seconds

    wait_for(settled, 30, 0.1, "the topic kept growing after the producer was killed")
    return int(seen["count"])


def test_sigkill_mid_cycle_then_restart_covers_the_truth_with_stable_event_ids(
    start_sim: Callable[..., SimHandle], kafka_bootstrap: str, tmp_path: Path
) -> None:
    # ~100 E3 requests of 20 ms each, one at a time, committing every 100 contacts: the kill
    # lands in the middle of the initial load.
    sim = start_sim(contacts=2000, inbound_calls=50, faults=FaultConfig(latency_ms=20))
    topic = events_topic(sim.campaign_id)
    args = ("--mode", "initial", "--fetch-in-flight", "1", "--chunk-contacts", "100")
    first = start_producer(sim, kafka_bootstrap, tmp_path, *args)
    try:
        wait_for(lambda: published(kafka_bootstrap, topic) > 300, 60, 0.02, "nothing published")
        assert first.poll() is None, "the load finished before the kill; make it bigger"
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        first.kill()
        first.communicate()
    # Requests the killed process had already sent still land after it died: count once the
    # end offsets have stopped moving (unchanged for a second).
    killed_at = settled_published(kafka_bootstrap, topic)

    second = start_producer(sim, kafka_bootstrap, tmp_path, *args)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err

    records = read_topic(kafka_bootstrap, topic)
    truth = sim.truth()
    assert_topic_matches_truth(records, truth)
    ids_by_entity: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in records:
        ids_by_entity[entity_of(record.event)].add(record.event.event_id)
    assert all(len(ids) == 1 for ids in ids_by_entity.values()), "a duplicate changed its id"
    # Confirmed chunks were not re-sent: at most one chunk (plus in-flight) is published twice.
    duplicates = len(records) - len(expected_entities(truth))
    assert 0 <= duplicates <= killed_at
    assert duplicates < 1000, duplicates


def test_sigterm_saves_state_and_exits_zero(
    start_sim: Callable[..., SimHandle], kafka_bootstrap: str, tmp_path: Path
) -> None:
    sim = start_sim(contacts=30, inbound_calls=5)
    topic = events_topic(sim.campaign_id)
    proc = start_producer(sim, kafka_bootstrap, tmp_path, "--interval", "1")
    try:
        wait_for(lambda: published(kafka_bootstrap, topic) > 0, 60, 0.05, "nothing published")
        sim.activity(10)
        wait_for(lambda: _latest_matches(kafka_bootstrap, topic, sim), 30, 0.1, "activity missing")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    before = published(kafka_bootstrap, topic)
    restarted = start_producer(sim, kafka_bootstrap, tmp_path, "--once")
    _, err = restarted.communicate(timeout=60)
    assert restarted.returncode == 0, err
    assert published(kafka_bootstrap, topic) == before  # everything confirmed stayed confirmed
    assert_topic_matches_truth(read_topic(kafka_bootstrap, topic), sim.truth())


def _latest_matches(bootstrap: str, topic: str, sim: SimHandle) -> bool:
    try:
        assert_topic_matches_truth(read_topic(bootstrap, topic), sim.truth())
    except AssertionError:
        return False
    return True


def test_a_revoked_token_exits_1_with_one_clear_line_and_no_token(
    start_sim: Callable[..., SimHandle], kafka_bootstrap: str, tmp_path: Path
) -> None:
    sim = start_sim(contacts=5, inbound_calls=0)
    proc = start_producer(sim, kafka_bootstrap, tmp_path, "--once", token=FORBIDDEN)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert sim.campaign_id in lines[0] and "403" in lines[0]
    assert "only visible to the user who activated" in lines[0]
    assert "Traceback" not in err + out
    logs = "".join(p.read_text() for p in (tmp_path / "log").glob("*.log"))
    assert sim.campaign_id in logs
    for text in (out, err, logs):
        assert FORBIDDEN not in text


def test_invalid_settings_exit_1_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from producer.service import main

    cases = {
        ("--ct", "x"): "Campaign ID (--c) is required",
        ("--c", "ABC"): "Campaign token (--ct) is required",
        ("--c", "ABC", "--ct", "x", "--fm", "everything"): "--fm",
        ("--c", "ABC", "--ct", "x", "--mode", "since"): "needs a start date",
    }
    env_token = os.environ.pop("DBSYNC_CT", None)
    try:
        for argv, expected in cases.items():
            assert main(list(argv)) == 1
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and expected in err[0], (argv, err)
    finally:
        if env_token is not None:
            os.environ["DBSYNC_CT"] = env_token
