"""Write one batch in a background thread while the consumer loop prepares the next one.

The database write of a batch (COPY or multi-row upsert, offsets, commit) waits on the database
for most of its time; the consumer loop meanwhile polls, decodes and renders the next batch
(`BatchWriter.prepare`), which the writer uses if it still fits. At most one batch is in
flight, so batches still commit strictly in order and a partition's events apply in order.
The in-flight write makes exactly one attempt: its outcome (a result or the exception) goes back
to the loop, which owns retries, pausing and offset bookkeeping, so every Kafka call stays on the
loop's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from consumers.runtime.envelope import Envelope
from consumers.sql.processor import BatchResult
from consumers.sql.writer import PreparedBatch

log = logging.getLogger(__name__)


@dataclass
class InFlightBatch:
    """A batch handed to the writer thread, with when it was handed over."""

    envelopes: list[Envelope]
    started: float
    future: Future[BatchResult]


class WritePipeline:
    """One writer thread with room for one batch."""

    def __init__(
        self, write: Callable[[list[Envelope], PreparedBatch | None], BatchResult]
    ) -> None:
        self._write = write
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sql-writer")
        self.in_flight: InFlightBatch | None = None

    def submit(
        self, envelopes: list[Envelope], started: float, prepared: PreparedBatch | None = None
    ) -> None:
        """Start writing `envelopes` (one attempt); the previous batch must be taken first."""
        if self.in_flight is not None:
            raise RuntimeError("a batch is already in flight")
        future = self._executor.submit(self._write, envelopes, prepared)
        self.in_flight = InFlightBatch(envelopes, started, future)

    def take(self) -> InFlightBatch | None:
        """Wait for the in-flight batch to finish (either way) and hand it back."""
        batch, self.in_flight = self.in_flight, None
        if batch is not None:
            batch.future.exception()  # waits; the outcome stays in the future
        return batch

    def settle(self) -> None:
        """Wait for the in-flight write without taking it (a rebalance must not overtake it)."""
        if self.in_flight is not None:
            self.in_flight.future.exception()

    def close(self) -> None:
        """Stop the writer thread (after the in-flight write, if any)."""
        self._executor.shutdown(wait=True)
