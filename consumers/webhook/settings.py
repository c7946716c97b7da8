"""The relay's limits (RelaySettings) and counters (RelayStats)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RelaySettings:
    """Limits of one relay; the comments say why each default was chosen."""

    in_flight: int = 32  # the original's --w: concurrent requests across contacts
    max_attempts: int = 10  # the original's documented limit (README: "maximum 10 attempts")
    # Buffered (consumed, unfinished) events above which consumption pauses: bounds memory at
    # roughly this many decoded events; resumes below half of it.
    max_buffered: int = 10_000
    # ... and payload bytes (Kafka key + value of those events) above which it pauses too, so
    # wide contacts cannot fill memory below the event count. A decoded event takes ~6x its
    # Avro size (measured: 1.5 kB -> 9.7 kB), so 32 MiB is ~230 MiB of objects at most; typical
    # 1.5 kB events reach the event count first (10,000 = 15 MiB). Resumes below half as well.
    max_buffered_bytes: int = 32 * 1024 * 1024
    # A full buffer first only stops intake (fair across partitions, see relay.py); after this
    # long it pauses the partitions: far below max.poll.interval.ms (600 s), and a rebalance
    # waits at most this long for its callbacks.
    hold_before_pause_s: float = 15.0
    commit_interval_s: float = 1.0  # at most one synchronous commit per second
    shutdown_grace_s: float = 35.0  # > the default 30 s request timeout: let requests finish
    revoke_grace_s: float = 10.0  # how long a revoked partition's requests may finish
    poll_batch: int = 500
    idle_poll_s: float = 0.1


@dataclass
class RelayStats:
    """Counters for tests, benchmarks and the embedding CLI (written by the loop only)."""

    delivered: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    attempts: int = 0
    breaker_opened: int = 0
    backpressure_pauses: int = 0
    max_buffered_seen: int = 0
    max_buffered_bytes_seen: int = 0
