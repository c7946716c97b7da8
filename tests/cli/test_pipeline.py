"""LegacyPipeline with scripted parts: worker failures and signals end a run the right way."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

import pytest

from dbsync2.kafka_offsets import OffsetReader
from dbsync2.pipeline import Interrupted, LegacyPipeline, PipelineFailed

pytestmark = pytest.mark.integration


class ScriptedParts:
    """Parts whose producer and consumer do what a test says; the topic does not exist."""

    def __init__(
        self,
        topic: str,
        load: Callable[[threading.Event], None],
        consume: Callable[[threading.Event], None],
    ) -> None:
        self.events_topic = topic
        self.dead_letter_topic = topic + ".dlq"
        self._load = load
        self._consume = consume
        self.followed = threading.Event()

    def run_load(self, stop: threading.Event) -> None:
        self._load(stop)

    def run_follow(self, stop: threading.Event) -> None:
        self.followed.set()
        stop.wait()

    def run_consumer(self, stop: threading.Event) -> None:
        self._consume(stop)

    def prepare_consumer(self, reader: OffsetReader) -> None:
        return None

    def consumed_positions(self, reader: OffsetReader) -> dict[int, int]:
        return {}

    def count_rows(self) -> dict[str, int]:
        return {"contacts": 0}


def wait_for_stop(stop: threading.Event) -> None:
    stop.wait()


def fail_consumer(stop: threading.Event) -> None:
    raise RuntimeError("database went away\nsecond line")


def test_a_failing_consumer_fails_the_run_with_its_first_line(
    kafka_bootstrap: str, unique_id: str
) -> None:
    parts = ScriptedParts(f"missing-{unique_id}", wait_for_stop, fail_consumer)
    pipeline = LegacyPipeline(parts, kafka_bootstrap, "db_init", io.StringIO())
    with pytest.raises(PipelineFailed) as failed:
        pipeline.run_load(threading.Event())
    assert str(failed.value) == "consumer stopped: database went away"


def test_a_signal_during_a_load_fails_db_init(kafka_bootstrap: str, unique_id: str) -> None:
    parts = ScriptedParts(f"missing-{unique_id}", wait_for_stop, wait_for_stop)
    interrupted = threading.Event()
    interrupted.set()
    pipeline = LegacyPipeline(parts, kafka_bootstrap, "db_init", io.StringIO())
    with pytest.raises(Interrupted, match="interrupted before the load finished"):
        pipeline.run_load(interrupted)


def test_a_finished_load_prints_a_summary(kafka_bootstrap: str, unique_id: str) -> None:
    parts = ScriptedParts(f"missing-{unique_id}", lambda stop: None, wait_for_stop)
    summary = LegacyPipeline(parts, kafka_bootstrap, "db_update", io.StringIO()).run_load(
        threading.Event()
    )
    text = summary.render()
    assert text.splitlines()[0] == "db_update finished: everything published is materialized"
    assert "contacts" in text
    assert "dead letters" in text
    assert (summary.events, summary.dead_letters) == (0, 0)


def test_live_mode_follows_until_the_signal_and_stops_cleanly(
    kafka_bootstrap: str, unique_id: str
) -> None:
    parts = ScriptedParts(f"missing-{unique_id}", lambda stop: None, wait_for_stop)
    out = io.StringIO()
    interrupted = threading.Event()
    pipeline = LegacyPipeline(parts, kafka_bootstrap, "db_sync", out)
    runner = threading.Thread(target=pipeline.run_live, args=(interrupted,))
    runner.start()
    assert parts.followed.wait(30)
    interrupted.set()
    runner.join(60)
    assert not runner.is_alive()
    assert "caught up; following live changes" in out.getvalue()
