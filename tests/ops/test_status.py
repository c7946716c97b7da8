"""`dbsync2 status` against real Kafka: lag, members, dead letters, checkpoint age, states."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from consumers.custom.harness_kafka import (
    Message,
    messages_of,
    publish,
    run_until_caught_up,
    scratch_campaign,
)
from consumers.custom.sample_events import sample_events
from consumers.custom.wiring import build_running_group
from consumers.runtime.group import GroupSpec, TypedEnvelope
from ops.observability.producer_checkpoint import read_checkpoint, state_file
from ops.replay import main as replay
from ops.status import Thresholds, classify_group, main
from producer.state import StateStore, StateUpdate
from schemas.topics import dead_letter_topic, events_topic
from tests.ops.test_replay import stamped
from tests.support.waiting import wait_for

LIMITS = Thresholds(late_seconds=60, stuck_seconds=600)


class Discard:
    """A group that handles events by ignoring them."""

    def handle(self, batch: Sequence[TypedEnvelope]) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("lag", "seconds", "members", "state"),
    [
        (0, 0.0, 0, "healthy"),  # stopped but nothing to do
        (5, 10.0, 1, "healthy"),  # a few seconds behind: normal batching
        (5, 120.0, 1, "late"),
        (5, 601.0, 2, "stuck"),
        (1, 1.0, 0, "stuck"),  # lag and nobody consuming
    ],
)
def test_states_are_told_apart(lag: int, seconds: float, members: int, state: str) -> None:
    assert classify_group(lag, seconds, members, LIMITS) == state


def test_the_checkpoint_is_read_from_the_producers_state_file(tmp_path: Path) -> None:
    assert read_checkpoint(tmp_path, "C/1") is None
    moment = datetime(2026, 3, 1, 6, 0, 0, 123456, tzinfo=UTC)
    store = StateStore.open_in(tmp_path, "C/1")
    store.commit(StateUpdate(checkpoint=moment))
    store.close()
    assert state_file(tmp_path, "C/1") == store.path
    assert read_checkpoint(tmp_path, "C/1") == moment


def run_status(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code = main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.integration
@pytest.mark.slow
def test_status_reports_lag_members_dead_letters_and_checkpoint_age(
    kafka_bootstrap: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with scratch_campaign(kafka_bootstrap, "behind") as campaign:
        events = sample_events(campaign)
        publish(kafka_bootstrap, events_topic(campaign), stamped(events))
        behind = GroupSpec("behind", campaign, max_wait=0.2)
        live = GroupSpec("live", campaign, max_wait=0.2)
        run_until_caught_up(kafka_bootstrap, behind, Discard())
        args = ["--group", "behind", "--campaign", campaign, "--bootstrap-servers", kafka_bootstrap]
        assert replay([*args, "--to", "2026-03-01T07:00:00"]) == 0
        publish(
            kafka_bootstrap,
            dead_letter_topic(campaign, "behind"),
            [Message(b"k", b"poison"), Message(b"k", b"poison")],
        )
        store = StateStore.open_in(tmp_path, campaign)
        store.commit(StateUpdate(checkpoint=datetime.now(UTC) - timedelta(seconds=30)))
        store.close()
        running = build_running_group(kafka_bootstrap, live, Discard())
        stop = threading.Event()
        thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
        thread.start()
        try:
            wait_for(lambda: running.runtime.handled == len(events), 60, message="live lagging")
            capsys.readouterr()
            common = ["--campaign", campaign, "--bootstrap-servers", kafka_bootstrap]
            code, report = run_status([*common, "--state-dir", str(tmp_path)], capsys)
        finally:
            stop.set()
            thread.join(30)
    assert code == 3  # the stopped group with lag is stuck
    assert report["events"] == len(events)
    assert 25 <= report["producer_checkpoint_age_seconds"] < 120
    assert report["producer_state"] == "healthy"
    groups = {g["group_id"]: g for g in report["groups"]}
    assert set(groups) == {behind.group_id, live.group_id}
    stuck, healthy = groups[behind.group_id], groups[live.group_id]
    assert stuck["state"] == "stuck" and stuck["members"] == []
    assert stuck["lag"] == len(events) - len(events) // 2
    oldest = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
    assert stuck["lag_seconds"] >= (datetime.now(UTC) - oldest).total_seconds() - 3600
    assert stuck["dead_letters"] == 2
    assert healthy["state"] == "healthy" and len(healthy["members"]) == 1
    assert healthy["lag"] == 0 and healthy["dead_letters"] == 0
    assert [p["lag"] for p in healthy["partitions"]] == [0, 0, 0]


@pytest.mark.integration
@pytest.mark.slow
def test_lag_rises_while_a_group_is_stopped_and_falls_after_it_restarts(
    kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with scratch_campaign(kafka_bootstrap, "g") as campaign:
        events = sample_events(campaign)
        topic = events_topic(campaign)
        spec = GroupSpec("g", campaign, max_wait=0.2)
        common = ["--campaign", campaign, "--bootstrap-servers", kafka_bootstrap]
        publish(kafka_bootstrap, topic, messages_of(events[:40]))
        run_until_caught_up(kafka_bootstrap, spec, Discard())
        code, first = run_status(common, capsys)
        assert code == 0 and first["groups"][0]["lag"] == 0
        publish(kafka_bootstrap, topic, messages_of(events[40:]))
        code, second = run_status(common, capsys)
        assert code == 3 and second["groups"][0]["lag"] == len(events) - 40
        run_until_caught_up(kafka_bootstrap, spec, Discard())
        code, third = run_status(common, capsys)
        assert code == 0 and third["groups"][0]["lag"] == 0
    text_code = main(["--campaign", "no-such-campaign", "--bootstrap-servers", kafka_bootstrap])
    assert text_code == 1
    assert "does not exist" in capsys.readouterr().err
