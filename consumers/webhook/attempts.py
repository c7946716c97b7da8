"""The relay's worker threads: each makes one HTTP attempt and hands the result back to the loop.

Only the loop thread calls `submit` and `drain`, so the in-flight counters need no lock; the
workers touch nothing but the sender and the result queue.
"""

from __future__ import annotations

import logging
import queue
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from consumers.webhook.scheduler import PendingEvent
from consumers.webhook.sender import AttemptOutcome, AttemptResult, WebhookSender

log = logging.getLogger("consumers.webhook.relay")

ResultHandler = Callable[[PendingEvent, AttemptResult, bool], None]


class AttemptPool:
    """Runs attempts on `workers` threads; counts what is in flight, in total and per partition."""

    def __init__(self, sender: WebhookSender, workers: int) -> None:
        self._sender = sender
        self._results: queue.SimpleQueue[tuple[PendingEvent, AttemptResult, bool]] = (
            queue.SimpleQueue()
        )
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="webhook")
        self.in_flight = 0
        self.by_partition: Counter[int] = Counter()

    def submit(self, pending: PendingEvent, probe: bool) -> None:
        """Start one attempt (a circuit-breaker probe if `probe`)."""
        self.in_flight += 1
        self.by_partition[pending.envelope.partition] += 1
        self._executor.submit(self._attempt, pending, probe)

    def _attempt(self, pending: PendingEvent, probe: bool) -> None:
        """Worker thread: one POST; the result goes back to the loop."""
        try:
            result = self._sender.send(pending.event)
        except Exception as exc:  # a bug must not kill the worker or lose the event
            env = pending.envelope
            log.exception(
                "unexpected error while sending event %s", pending.event.event_id,
                extra={"topic": env.topic, "partition": env.partition, "offset": env.offset,
                       "contact_id": env.contact_key, "event_id": pending.event.event_id},
            )  # fmt: skip
            result = AttemptResult(
                AttemptOutcome.REJECTED, None, None, "", f"internal error: {type(exc).__name__}", ""
            )
        self._results.put((pending, result, probe))

    def drain(self, block_s: float, handle: ResultHandler) -> None:
        """Hand every finished attempt to `handle`, waiting up to `block_s` for the first."""
        try:
            item = self._results.get(timeout=block_s) if block_s > 0 else self._results.get_nowait()
        except queue.Empty:
            return
        while True:
            pending = item[0]
            self.in_flight -= 1
            self.by_partition[pending.envelope.partition] -= 1
            handle(*item)
            try:
                item = self._results.get_nowait()
            except queue.Empty:
                return

    def shutdown(self) -> None:
        """Stop the workers without waiting (unfinished events are redelivered)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
