"""`dbsync2 status`: every consumer group of a campaign, its lag, members, dead letters, health.

Lag in messages is end offset minus committed offset; lag in seconds is the age of the oldest
message the group has not consumed (its Kafka timestamp against now). States:
- healthy: no lag, or the oldest unconsumed message is younger than `--late-seconds` (60);
- late: it is older than that but younger than `--stuck-seconds` (600);
- stuck: older than `--stuck-seconds`, or there is lag and the group has no active member.
The producer's checkpoint age (with `--state-dir`) is late after `--checkpoint-late-seconds`
(900). Exit codes: 0 everything healthy, 3 something late or stuck, 1 an error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import TopicPartition

from ops.observability.kafka_groups import (
    NO_OFFSET,
    KafkaToolError,
    committed_offsets,
    describe_group,
    list_group_ids,
    make_admin,
    make_probe,
    topic_partitions,
    watermarks,
)
from ops.observability.producer_checkpoint import read_checkpoint
from schemas.topics import dead_letter_topic, events_topic

PROG = "dbsync2 status"
EXIT_UNHEALTHY = 3
# Reading one message per lagging partition to learn its timestamp; a broker answers in ms.
TIMESTAMP_FETCH_SECONDS = 10.0


@dataclass(frozen=True)
class Thresholds:
    """When a group counts as late or stuck, and when the producer's checkpoint is late."""

    late_seconds: float = 60.0
    stuck_seconds: float = 600.0
    checkpoint_late_seconds: float = 900.0


@dataclass
class PartitionLag:
    """One partition of one group."""

    partition: int
    committed: int | None
    end: int
    lag: int
    lag_seconds: float


@dataclass
class GroupStatus:
    """One consumer group on the campaign's topic."""

    group_id: str
    state: str
    kafka_state: str
    members: list[str]
    lag: int
    lag_seconds: float
    dead_letter_topic: str
    dead_letters: int | None
    partitions: list[PartitionLag] = field(default_factory=list)


@dataclass
class CampaignStatus:
    """The whole report."""

    campaign: str
    topic: str
    checked_at: str
    events: int
    producer_checkpoint: str | None
    producer_checkpoint_age_seconds: float | None
    producer_state: str | None
    groups: list[GroupStatus]

    @property
    def healthy(self) -> bool:
        """True when no group and not the producer is late or stuck."""
        states = [g.state for g in self.groups] + [self.producer_state or "healthy"]
        return all(s == "healthy" for s in states)


def classify_group(lag: int, lag_seconds: float, members: int, limits: Thresholds) -> str:
    """Return healthy, late or stuck (see the module docstring)."""
    if lag <= 0:
        return "healthy"
    if members == 0 or lag_seconds >= limits.stuck_seconds:
        return "stuck"
    return "late" if lag_seconds >= limits.late_seconds else "healthy"


def group_name_of(group_id: str, campaign: str) -> str:
    """Return the group's name (its DLQ suffix): `dbsync2.<campaign>.<name>` or the id itself."""
    prefix = f"dbsync2.{campaign}."
    return group_id[len(prefix) :] if group_id.startswith(prefix) else group_id


def oldest_unconsumed_ms(probe: Any, topic: str, positions: Mapping[int, int]) -> dict[int, int]:
    """Return the Kafka timestamp of the message at each given offset (read one per partition)."""
    if not positions:
        return {}
    probe.assign([TopicPartition(topic, p, o) for p, o in positions.items()])
    found: dict[int, int] = {}
    deadline = time.monotonic() + TIMESTAMP_FETCH_SECONDS
    try:
        while len(found) < len(positions) and time.monotonic() < deadline:
            for msg in probe.consume(num_messages=len(positions), timeout=1.0):
                if msg.error() is None and msg.partition() not in found:
                    found[msg.partition()] = int(msg.timestamp()[1])
    finally:
        probe.unassign()
    return found


def depth_of(probe: Any, admin: Any, topic: str) -> int | None:
    """Return end minus start offsets summed over a topic, None when it does not exist."""
    try:
        partitions = topic_partitions(admin, topic)
    except KafkaToolError:
        return None
    return sum(high - low for low, high in watermarks(probe, topic, partitions).values())


def collect_status(
    admin: Any,
    probe: Any,
    campaign: str,
    limits: Thresholds,
    now: datetime,
    state_dir: Path | None = None,
) -> CampaignStatus:
    """Gather the report from Kafka (and the producer's state file)."""
    topic = events_topic(campaign)
    partitions = topic_partitions(admin, topic)
    marks = watermarks(probe, topic, partitions)
    groups: list[GroupStatus] = []
    for group_id in list_group_ids(admin):
        committed = committed_offsets(admin, group_id, topic, partitions)
        if all(o == NO_OFFSET for o in committed.values()) and not group_id.startswith(
            f"dbsync2.{campaign}."
        ):
            continue  # a group of another topic
        groups.append(
            _group_status(admin, probe, campaign, group_id, committed, marks, limits, now)
        )
    checkpoint = read_checkpoint(state_dir, campaign) if state_dir is not None else None
    age = (now - checkpoint).total_seconds() if checkpoint is not None else None
    producer_state = None
    if state_dir is not None:
        late = age is None or age >= limits.checkpoint_late_seconds
        producer_state = "late" if late else "healthy"
    return CampaignStatus(
        campaign=campaign,
        topic=topic,
        checked_at=now.isoformat(timespec="seconds"),
        events=sum(high - low for low, high in marks.values()),
        producer_checkpoint=checkpoint.isoformat() if checkpoint is not None else None,
        producer_checkpoint_age_seconds=age,
        producer_state=producer_state,
        groups=groups,
    )


def _group_status(
    admin: Any,
    probe: Any,
    campaign: str,
    group_id: str,
    committed: Mapping[int, int],
    marks: Mapping[int, tuple[int, int]],
    limits: Thresholds,
    now: datetime,
) -> GroupStatus:
    info = describe_group(admin, group_id)
    starts = {p: committed[p] if committed[p] >= 0 else low for p, (low, _h) in marks.items()}
    lagging = {p: starts[p] for p, (_l, high) in marks.items() if high > starts[p]}
    stamps = oldest_unconsumed_ms(probe, events_topic(campaign), lagging)
    rows = []
    for p, (_low, high) in sorted(marks.items()):
        stamp = stamps.get(p)
        age = max(0.0, now.timestamp() - stamp / 1000.0) if stamp is not None else 0.0
        rows.append(
            PartitionLag(
                partition=p,
                committed=committed[p] if committed[p] >= 0 else None,
                end=high,
                lag=max(0, high - starts[p]),
                lag_seconds=round(age, 3) if p in lagging else 0.0,
            )
        )
    lag = sum(r.lag for r in rows)
    lag_seconds = max((r.lag_seconds for r in rows), default=0.0)
    dlq = dead_letter_topic(campaign, group_name_of(group_id, campaign))
    return GroupStatus(
        group_id=group_id,
        state=classify_group(lag, lag_seconds, len(info.members), limits),
        kafka_state=info.state,
        members=[f"{m.client_id}@{m.host.lstrip('/')}" for m in info.members],
        lag=lag,
        lag_seconds=lag_seconds,
        dead_letter_topic=dlq,
        dead_letters=depth_of(probe, admin, dlq),
        partitions=rows,
    )


def format_status(status: CampaignStatus) -> str:
    """Return the human-readable table."""
    lines = [f"campaign {status.campaign}: topic {status.topic}, {status.events} events"]
    if status.producer_state is not None:
        if status.producer_checkpoint is None:
            lines.append("producer: no checkpoint in the state directory  [late]")
        else:
            age = status.producer_checkpoint_age_seconds or 0.0
            lines.append(
                f"producer: checkpoint {status.producer_checkpoint}, "
                f"{age:.0f} s old  [{status.producer_state}]"
            )
    lines.append(
        f"{'GROUP':<40} {'STATE':<8} {'MEMBERS':>7} {'LAG':>8} {'LAG(s)':>9} {'DEAD LETTERS':>12}"
    )
    for g in status.groups:
        dead = "-" if g.dead_letters is None else str(g.dead_letters)
        lines.append(
            f"{g.group_id:<40} {g.state:<8} {len(g.members):>7} {g.lag:>8} "
            f"{g.lag_seconds:>9.0f} {dead:>12}"
        )
        for r in g.partitions:
            done = "-" if r.committed is None else str(r.committed)
            lines.append(
                f"    partition {r.partition}: committed {done}, end {r.end}, "
                f"lag {r.lag} ({r.lag_seconds:.0f} s)"
            )
    if not status.groups:
        lines.append("(no consumer group has read this topic yet)")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `dbsync2 status`."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--campaign", required=True)
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("--state-dir", type=Path, help="the producer's state directory")
    p.add_argument("--late-seconds", type=float, default=Thresholds.late_seconds)
    p.add_argument("--stuck-seconds", type=float, default=Thresholds.stuck_seconds)
    p.add_argument(
        "--checkpoint-late-seconds", type=float, default=Thresholds.checkpoint_late_seconds
    )
    p.add_argument("--bootstrap-servers", help="default $KAFKA_BOOTSTRAP_SERVERS")
    return p


def main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """Run `dbsync2 status` and return its exit code."""
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(list(argv))
    bootstrap = args.bootstrap_servers or env.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if not bootstrap:
        print(f"{PROG}: set --bootstrap-servers or $KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 1
    limits = Thresholds(args.late_seconds, args.stuck_seconds, args.checkpoint_late_seconds)
    probe = make_probe(bootstrap)
    try:
        status = collect_status(
            make_admin(bootstrap), probe, args.campaign, limits, datetime.now(UTC), args.state_dir
        )
    except KafkaToolError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    finally:
        probe.close()
    print(json.dumps(asdict(status), indent=2) if args.json else format_status(status))
    return 0 if status.healthy else EXIT_UNHEALTHY
