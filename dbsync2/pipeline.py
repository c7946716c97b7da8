"""Run one legacy mode in one process: the producer and one consumer group as threads.

Phase 1 (every mode): the producer publishes what the mode loads first (whole campaign, since a
date, or one cycle from its checkpoint) while the group consumes; the phase ends when the group
has durably handled everything up to the topic's end offsets as they stood after the load.
db_init / db_update then stop and print a summary (fixes W1). db_sync / webhook go on to phase 2:
the producer polls every minute until `stop` is set (SIGTERM/SIGINT); then the producer stops
first and the group drains what it published before it stops too. A crash of either thread
stops the other and fails the run with a one-line reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from dbsync2.kafka_offsets import OffsetReader, count_behind
from dbsync2.progress import ProgressDisplay, format_duration

log = logging.getLogger(__name__)

# How often the main thread looks at offsets and worker health; offsets are cheap metadata calls.
WATCH_INTERVAL_S = 0.5
# After the producer stopped, the group gets this long to drain before it is stopped anyway;
# longer than one webhook request timeout (30 s) so a slow receiver can still answer.
DRAIN_TIMEOUT_S = 40.0


class PipelineParts(Protocol):
    """What the runner needs from the producer and the consumer group of one legacy mode."""

    events_topic: str
    dead_letter_topic: str

    def run_load(self, stop: threading.Event) -> None: ...
    def run_follow(self, stop: threading.Event) -> None: ...
    def run_consumer(self, stop: threading.Event) -> None: ...
    def prepare_consumer(self, reader: OffsetReader) -> None: ...
    def consumed_positions(self, reader: OffsetReader) -> dict[int, int]: ...
    def count_rows(self) -> dict[str, int]: ...


class PipelineFailed(Exception):
    """A worker thread failed or the run was interrupted; the message is shown to the user."""


class Interrupted(PipelineFailed):
    """SIGTERM/SIGINT arrived: a failure for a load mode, a clean stop for a live mode."""


@dataclass
class Worker:
    """A named daemon thread that keeps the exception that ended it."""

    name: str
    target: Callable[[threading.Event], None]
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.target(self.stop)
        except BaseException as exc:  # reported by the main thread, never swallowed
            log.debug("%s failed", self.name, exc_info=True)
            self.error = exc

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def halt(self, timeout: float) -> None:
        """Ask the thread to stop and wait up to `timeout` seconds for it."""
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


@dataclass(frozen=True)
class RunSummary:
    """What a finished load reports."""

    mode: str
    rows: dict[str, int]
    events: int
    dead_letters: int
    seconds: float

    def render(self) -> str:
        """Return the summary block printed at the end of db_init / db_update."""
        lines = [f"{self.mode} finished: everything published is materialized"]
        for table, count in self.rows.items():
            lines.append(f"  {table:<24}{count:>10} rows")
        lines.append(f"  {'events in topic':<24}{self.events:>10}")
        lines.append(f"  {'dead letters (this run)':<24}{self.dead_letters:>10}")
        lines.append(f"  {'duration':<24}{format_duration(self.seconds):>10}")
        if self.dead_letters:
            lines.append("  inspect them with: dbsync2 dlq list --campaign <id> --group <group>")
        return "\n".join(lines)


class LegacyPipeline:
    """Owns the worker threads and decides when a run is over."""

    def __init__(
        self,
        parts: PipelineParts,
        bootstrap: str,
        mode: str,
        out: TextIO,
        progress: ProgressDisplay | None = None,
    ) -> None:
        self._parts = parts
        self._mode = mode
        self._out = out
        self._offsets = OffsetReader(bootstrap)
        self._progress = progress or ProgressDisplay(out)
        self._loader = Worker("producer-load", parts.run_load)
        self._follower = Worker("producer", parts.run_follow)
        self._consumer = Worker("consumer", parts.run_consumer)
        self._started = time.monotonic()

    def _check_workers(self) -> None:
        for worker in (self._loader, self._follower, self._consumer):
            if worker.error is not None:
                raise PipelineFailed(f"{worker.name} stopped: {_describe(worker.error)}")
        if self._consumer.started and not self._consumer.alive and not self._consumer.stop.is_set():
            raise PipelineFailed("consumer stopped unexpectedly")

    def _behind(self, target: dict[int, int], force: bool = False) -> int:
        """Show progress towards `target`; return how many events are not yet handled."""
        positions = self._parts.consumed_positions(self._offsets)
        behind = count_behind(target, positions)
        total = sum(target.values())
        self._progress.update(total - behind, total, force=force)
        return behind

    def _wait(self, interrupted: threading.Event, reason: str) -> None:
        self._check_workers()
        if interrupted.wait(WATCH_INTERVAL_S):
            raise Interrupted(reason)

    def _load(self, interrupted: threading.Event) -> dict[int, int]:
        """Phase 1: publish the load and wait until the group handled it; return the target."""
        topic = self._parts.events_topic
        start_consumer_first = self._mode != "webhook"
        if start_consumer_first:
            self._consumer.start()
        self._loader.start()
        while self._loader.alive:
            self._wait(interrupted, "interrupted before the load finished")
            if start_consumer_first:
                self._behind(self._offsets.end_offsets(topic))
        self._check_workers()
        if not start_consumer_first:
            self._parts.prepare_consumer(self._offsets)
            self._consumer.start()
        target = self._offsets.end_offsets(topic)
        log.info("load published; waiting until offsets %s are handled", target)
        while self._behind(target) > 0:
            self._wait(interrupted, "interrupted before the load was materialized")
        self._progress.finish(sum(target.values()), sum(target.values()))
        return target

    def run_load(self, interrupted: threading.Event) -> RunSummary:
        """db_init / db_update: publish, wait until materialized, return the summary."""
        try:
            dead_before = self._offsets.message_count(self._parts.dead_letter_topic)
            target = self._load(interrupted)
            self._consumer.halt(DRAIN_TIMEOUT_S)
            self._check_workers()
            return RunSummary(
                mode=self._mode,
                rows=self._parts.count_rows(),
                events=sum(target.values()),
                dead_letters=self._offsets.message_count(self._parts.dead_letter_topic)
                - dead_before,
                seconds=time.monotonic() - self._started,
            )
        finally:
            self._shutdown()

    def run_live(self, interrupted: threading.Event) -> None:
        """db_sync / webhook: load, then follow live changes until `interrupted`."""
        try:
            try:
                self._load(interrupted)
            except Interrupted:
                log.info("stop requested during the first load; it resumes from the checkpoint")
                return
            log.info("caught up; following live changes")
            print("caught up; following live changes (SIGTERM or Ctrl-C stops)",
                  file=self._out, flush=True)  # fmt: skip
            self._follower.start()
            while not interrupted.wait(WATCH_INTERVAL_S):
                self._check_workers()
                if not self._follower.alive:
                    raise PipelineFailed("producer stopped unexpectedly")
            log.info("stop requested: stopping the producer, then the consumer group")
            self._follower.halt(DRAIN_TIMEOUT_S)
            self._check_workers()
            self._drain(time.monotonic() + DRAIN_TIMEOUT_S)
        finally:
            self._shutdown()
        self._check_workers()

    def _drain(self, deadline: float) -> None:
        """Let the group handle what the producer published before it stopped, up to `deadline`."""
        target = self._offsets.end_offsets(self._parts.events_topic)
        while count_behind(target, self._parts.consumed_positions(self._offsets)) > 0:
            self._check_workers()
            if time.monotonic() >= deadline:
                log.warning("stopping the consumer group before it drained (it resumes next run)")
                return
            time.sleep(WATCH_INTERVAL_S)

    def _shutdown(self) -> None:
        for worker in (self._loader, self._follower, self._consumer):
            worker.halt(DRAIN_TIMEOUT_S)
        self._offsets.close()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
