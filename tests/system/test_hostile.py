"""Hostile input through the whole pipeline: hostile fields, malformed answers, garbage bytes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from ops.chaos.checks import verify, wait_quiet
from ops.chaos.kafka_probe import read_topic
from ops.chaos.stack import SQL_GROUPS, WEBHOOK_GROUP, Stack, StackOptions
from schemas import headers as h
from tests.support.waiting import wait_for

QUIET_SECONDS = 180.0
MALFORMED = {"truncated", "wrong_types", "missing_task_log"}  # the simulator's modes
GARBAGE: tuple[bytes, ...] = (
    b"\x00\xff garbage \xfe",
    b"\xc3\x01" + b"\x00" * 8 + b"not an avro body",  # right magic, unknown fingerprint
    b'{"json": "but not avro"}',
    b"",
)


@pytest.fixture
def stack(
    kafka_bootstrap: str, postgres_url: str, mariadb_url: str, tmp_path: Path
) -> Iterator[Stack]:
    options = StackOptions(
        contacts=120, seed=5, hostile=True, interval="2s", bootstrap=kafka_bootstrap,
        proxies=False, postgres_url=postgres_url, mariadb_url=mariadb_url,
    )  # fmt: skip
    running = Stack(options, work_dir=tmp_path)
    try:
        yield running.start()
    finally:
        running.close()


def _changes(stack: Stack, count: int) -> float:
    stack.sim_post(f"/_sim/activity?n={count}")
    return time.time()


def _assert_equal_to_truth(stack: Stack, last_change: float) -> dict[str, object]:
    wait_quiet(stack, last_change, QUIET_SECONDS)
    report = verify(stack)
    assert report["mismatches"] == 0, report["sql"]
    assert report["lost"] == 0, report.get("webhook")
    return report


def _no_crash(stack: Stack) -> None:
    for name, component in stack.components.items():
        assert component.check_exit() is None, f"{name} exited:\n{component.log_tail()}"


@pytest.mark.integration
@pytest.mark.slow
def test_hostile_fields_malformed_answers_and_garbage_bytes(stack: Stack) -> None:
    # 1. Hostile custom fields (quotes, ;, SQL keywords, emoji, RTL, 10,000 chars, names that
    #    differ only in case, names over 64/128 chars): initial load equals the truth.
    report = _assert_equal_to_truth(stack, _changes(stack, 20))
    assert report["truth"]["contacts"] >= 120  # type: ignore[index]

    # 2. Malformed answers (truncated JSON, wrong types, missing $task_log) on half the requests
    #    while the campaign changes: cycles fail and are retried, nothing crashes.
    stack.sim_post("/_sim/faults", {"malformed_rate": 0.5})

    def enough_malformed() -> bool:
        _changes(stack, 3)
        return _malformed_modes_served(stack) == MALFORMED and _failed_cycles(stack) >= 3

    wait_for(enough_malformed, timeout=120, message="malformed answers never failed 3 cycles")
    _no_crash(stack)
    console = (stack.work / "logs" / "producer.log").read_text(errors="replace")
    assert "Traceback" not in console, console[-3000:]  # a clear one-line error, no crash
    assert stack.components["producer"].starts == 1  # no crash loop
    stack.sim_post("/_sim/faults", {"malformed_rate": 0.0})
    _assert_equal_to_truth(stack, _changes(stack, 10))  # nothing silently lost

    # 3. Garbage bytes straight onto the events topic: dead-lettered with a reason by every
    #    group, and the pipeline keeps going.
    producer = Producer({"bootstrap.servers": stack.bootstrap})
    for index, value in enumerate(GARBAGE):
        producer.produce(stack.topic, key=f"garbage-{index}".encode(), value=value)
    assert producer.flush(30) == 0
    _assert_equal_to_truth(stack, _changes(stack, 15))
    for group in (*SQL_GROUPS.values(), WEBHOOK_GROUP):
        letters = list(read_topic(stack.bootstrap, stack.dead_letter_topic(group)))
        keys = {m.key for m in letters}
        assert keys == {f"garbage-{i}".encode() for i in range(len(GARBAGE))}, group
        for letter in letters:
            assert letter.headers.get(h.DLQ_ERROR_CLASS), letter.headers
            assert letter.headers.get(h.DLQ_ERROR_MESSAGE), letter.headers
            assert letter.headers.get(h.DLQ_ORIGINAL_TOPIC) == stack.topic
        assert sorted(m.value or b"" for m in letters) == sorted(GARBAGE), group
    _no_crash(stack)


def _malformed_modes_served(stack: Stack) -> set[str]:
    stats = stack.http.get(f"{stack.sim_url}/_sim/stats", timeout=10).json()
    return {k.removeprefix("malformed_") for k in stats.get("faults", {}) if "malformed_" in k}


def _failed_cycles(stack: Stack) -> int:
    """Producer log lines (its own log file) that say a cycle failed and will be retried."""
    logs = stack.work / "logs"
    files = [p for p in logs.glob(f"{stack.campaign}_*.log")]
    return sum(p.read_text(errors="replace").count("cycle failed, retrying") for p in files)
