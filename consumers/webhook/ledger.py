"""Track which offsets of each partition are fully handled, to commit only below the first gap.

An offset is handled once its event was delivered, dead-lettered (and the dead letter flushed
before the commit) or skipped. The committable offset of a partition is the lowest offset not
yet handled, so a crash redelivers everything that was not finished: at-least-once.
"""

from __future__ import annotations

from collections import deque


class OffsetLedger:
    """Per-partition pending offsets in arrival order plus the set of finished ones."""

    def __init__(self) -> None:
        self._pending: dict[int, deque[int]] = {}
        self._done: dict[int, set[int]] = {}
        self._next: dict[int, int] = {}
        self._committed: dict[int, int] = {}

    def track(self, partition: int, offset: int) -> bool:
        """Record a consumed offset; return False for one already seen (a re-fetch)."""
        nxt = self._next.get(partition)
        if nxt is not None and offset < nxt:
            return False
        self._pending.setdefault(partition, deque()).append(offset)
        self._done.setdefault(partition, set())
        self._next[partition] = offset + 1
        return True

    def mark_done(self, partition: int, offset: int) -> None:
        """Mark one tracked offset as handled."""
        done = self._done.get(partition)
        if done is None:
            return  # the partition was revoked meanwhile
        done.add(offset)
        pending = self._pending[partition]
        while pending and pending[0] in done:
            done.discard(pending.popleft())

    def pending_count(self) -> int:
        """Return how many tracked offsets are not yet handled."""
        return sum(len(p) - len(self._done[k]) for k, p in self._pending.items())

    def committable(self, partitions: set[int] | None = None) -> dict[int, int]:
        """Return {partition: offset to commit} for partitions whose low-water mark moved."""
        out: dict[int, int] = {}
        for partition, nxt in self._next.items():
            if partitions is not None and partition not in partitions:
                continue
            pending = self._pending[partition]
            offset = pending[0] if pending else nxt
            if self._committed.get(partition) != offset:
                out[partition] = offset
        return out

    def mark_committed(self, offsets: dict[int, int]) -> None:
        """Remember what was committed, so it is not committed again."""
        self._committed.update(offsets)

    def forget(self, partition: int) -> None:
        """Drop all state of a partition (revoked, or assigned afresh)."""
        for table in (self._pending, self._done, self._next, self._committed):
            table.pop(partition, None)
