"""`dbsync2 replay` against real Kafka (and PostgreSQL for a SQL group's stored offsets)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

import pytest

from consumers.custom.harness_kafka import (
    Message,
    committed_all,
    messages_of,
    publish,
    run_until_caught_up,
    scratch_campaign,
)
from consumers.custom.sample_events import sample_events
from consumers.custom.wiring import build_running_group
from consumers.runtime.group import GroupSpec, TypedEnvelope
from ops.observability.kafka_groups import committed_offsets, make_admin
from ops.replay import main, parse_target
from schemas import Event
from schemas.topics import events_topic
from tests.support.waiting import wait_for

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
MIDDLE = T0 + timedelta(hours=1)


class EventRecorder:
    """A group that remembers which events it handled."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def handle(self, batch: Sequence[TypedEnvelope]) -> None:
        self.seen.extend(item.event.event_id for item in batch)

    def close(self) -> None:
        pass


def stamped(events: Sequence[Event]) -> list[Message]:
    """First half stamped before MIDDLE, second half after it (one second apart)."""
    half = len(events) // 2
    out = []
    for i, msg in enumerate(messages_of(events)):
        when = T0 + timedelta(seconds=i) if i < half else MIDDLE + timedelta(seconds=i)
        out.append(dataclasses.replace(msg, timestamp_ms=int(when.timestamp() * 1000)))
    return out


@contextmanager
def consumed_campaign(bootstrap: str) -> Iterator[tuple[str, list[Event], GroupSpec]]:
    """A campaign whose events a recording group has consumed completely, then stopped."""
    with scratch_campaign(bootstrap, "rec") as campaign:
        events = sample_events(campaign)
        publish(bootstrap, events_topic(campaign), stamped(events))
        spec = GroupSpec("rec", campaign, batch_size=50, max_wait=0.2)
        run_until_caught_up(bootstrap, spec, EventRecorder())
        yield campaign, events, spec


def test_naive_timestamps_are_utc_and_zones_are_converted() -> None:
    assert parse_target("2026-03-01T06:00").when == T0
    assert parse_target("2026-03-01T07:00:00+01:00").when == T0
    assert parse_target("2026-03-01").when == T0 - timedelta(hours=6)
    assert parse_target(" Earliest ").kind == "earliest"
    assert parse_target("2026-03-01T06:00Z").when == T0
    assert parse_target("2026-03-01T06:00-02:00").when == T0.astimezone(
        timezone(timedelta(hours=-2))
    ) + timedelta(hours=2)
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_target("yesterday")


@pytest.mark.integration
def test_dry_run_prints_old_and_new_offsets_and_changes_nothing(
    kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with consumed_campaign(kafka_bootstrap) as (campaign, events, spec):
        admin = make_admin(kafka_bootstrap)
        topic = events_topic(campaign)
        before = committed_offsets(admin, spec.group_id, topic, [0, 1, 2])
        code = main(
            [
                "--group",
                "rec",
                "--campaign",
                campaign,
                "--to",
                "earliest",
                "--dry-run",
                "--bootstrap-servers",
                kafka_bootstrap,
            ]
        )
        out = capsys.readouterr().out
        assert code == 0
        assert f"group {spec.group_id}, topic {topic}, to earliest" in out
        rows = [line.split() for line in out.splitlines()[2:5]]
        assert [(int(p), int(old), int(new)) for p, old, new in rows] == [
            (p, before[p], 0) for p in (0, 1, 2)
        ]
        assert sum(before.values()) == len(events)
        assert "dry run: nothing changed" in out
        assert committed_offsets(admin, spec.group_id, topic, [0, 1, 2]) == before


@pytest.mark.integration
def test_replay_to_a_timestamp_reapplies_exactly_the_events_after_it(
    kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with consumed_campaign(kafka_bootstrap) as (campaign, events, spec):
        code = main(
            [
                "--group",
                spec.group_id,
                "--campaign",
                campaign,
                "--to",
                "2026-03-01T07:00:00",
                "--bootstrap-servers",
                kafka_bootstrap,
            ]
        )
        assert code == 0, capsys.readouterr().err
        assert "Kafka offsets reset" in capsys.readouterr().out
        recorder = EventRecorder()
        run_until_caught_up(kafka_bootstrap, spec, recorder)
        after_middle = {e.event_id for e in events[len(events) // 2 :]}
        assert sorted(recorder.seen) == sorted(after_middle)


@pytest.mark.integration
def test_replay_to_earliest_then_latest(kafka_bootstrap: str) -> None:
    with consumed_campaign(kafka_bootstrap) as (campaign, events, spec):
        args = ["--group", "rec", "--campaign", campaign, "--bootstrap-servers", kafka_bootstrap]
        assert main([*args, "--to", "earliest"]) == 0
        recorder = EventRecorder()
        run_until_caught_up(kafka_bootstrap, spec, recorder)
        assert sorted(recorder.seen) == sorted(e.event_id for e in events)
        assert main([*args, "--to", "latest"]) == 0
        assert committed_all(kafka_bootstrap, spec.group_id, events_topic(campaign))


@pytest.mark.integration
def test_replay_is_refused_while_the_group_runs(
    kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with consumed_campaign(kafka_bootstrap) as (campaign, _events, spec):
        admin = make_admin(kafka_bootstrap)
        topic = events_topic(campaign)
        before = committed_offsets(admin, spec.group_id, topic, [0, 1, 2])
        running = build_running_group(kafka_bootstrap, spec, EventRecorder())
        stop = threading.Event()
        thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
        thread.start()
        try:
            wait_for(lambda: bool(running.runtime.assigned), 60, message="never assigned")
            code = main(
                [
                    "--group",
                    "rec",
                    "--campaign",
                    campaign,
                    "--to",
                    "earliest",
                    "--bootstrap-servers",
                    kafka_bootstrap,
                ]
            )
        finally:
            stop.set()
            thread.join(30)
        err = capsys.readouterr().err
        assert code == 2
        assert f"consumer group {spec.group_id} has 1 active member(s)" in err
        assert "stop every instance" in err
        assert committed_offsets(admin, spec.group_id, topic, [0, 1, 2]) == before


def test_bad_arguments_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "--group",
                "g",
                "--campaign",
                "c",
                "--to",
                "soon",
                "--bootstrap-servers",
                "127.0.0.1:1",
            ]
        )
        == 1
    )
    assert "ISO-8601" in capsys.readouterr().err
    assert main(["--group", "g", "--campaign", "c", "--to", "earliest"], environ={}) == 1
    assert "KAFKA_BOOTSTRAP_SERVERS" in capsys.readouterr().err
