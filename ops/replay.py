"""`dbsync2 replay`: move a stopped consumer group's offsets to earliest, latest or a timestamp.

It prints the old and new offset of every partition, refuses while the group has active members,
and with `--sql-url` also rewrites the offsets a SQL group keeps in its target database (the
materializer seeks to those, so without this the reset would not take effect). Replaying into
existing tables is harmless: every row carries the version that wrote it and never goes back.

Timestamps are ISO-8601 (`2026-03-01`, `2026-03-01T06:00`, `2026-03-01T06:00:00+01:00`); a
timestamp without a zone is UTC, like Kafka's own `--to-datetime`. Each partition moves to its
first message whose Kafka timestamp is at or after it, or to its end when there is none.
Exit codes: 0 done (or dry run), 1 bad arguments or a Kafka / database error, 2 refused because
the group has active members.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ops.observability.kafka_groups import (
    NO_OFFSET,
    GroupInfo,
    KafkaToolError,
    alter_offsets,
    committed_offsets,
    describe_group,
    make_admin,
    make_probe,
    offsets_at,
    topic_partitions,
    watermarks,
)
from ops.sql_offsets import SqlOffsetStore
from schemas.topics import events_topic

PROG = "dbsync2 replay"
EXIT_REFUSED = 2


@dataclass(frozen=True)
class ReplayTarget:
    """Where to move: "earliest", "latest", or the first message at or after `when` (UTC)."""

    kind: str
    when: datetime | None = None

    def describe(self) -> str:
        """Return the target as text."""
        return self.when.isoformat() if self.when is not None else self.kind


@dataclass(frozen=True)
class PartitionMove:
    """One partition's old offsets (Kafka and, for SQL groups, the database) and new offset."""

    partition: int
    kafka_old: int
    sql_old: int | None
    new: int


@dataclass(frozen=True)
class ReplayPlan:
    """Everything a replay will change."""

    group_id: str
    topic: str
    target: ReplayTarget
    moves: tuple[PartitionMove, ...]
    with_sql: bool = False

    def new_offsets(self) -> dict[int, int]:
        """Return partition -> new offset."""
        return {m.partition: m.new for m in self.moves}


class GroupActive(Exception):
    """The group has active members; a reset now would be overwritten by their next commit."""


def parse_target(text: str) -> ReplayTarget:
    """Parse earliest | latest | an ISO-8601 timestamp (naive = UTC)."""
    lowered = text.strip().lower()
    if lowered in ("earliest", "latest"):
        return ReplayTarget(lowered)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--to must be earliest, latest or an ISO-8601 timestamp, not {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return ReplayTarget("timestamp", when.astimezone(UTC))


def resolve_group_id(admin: Any, campaign: str, group: str) -> str:
    """Return `group` if Kafka knows it, else `dbsync2.<campaign>.<group>` if that exists."""
    candidates = [group]
    conventional = f"dbsync2.{campaign}.{group}"
    if not group.startswith("dbsync2.") and conventional != group:
        candidates.append(conventional)
    for candidate in candidates:
        if describe_group(admin, candidate).state.upper() != "DEAD":
            return candidate
    return group


def refuse_if_active(info: GroupInfo) -> None:
    """Raise GroupActive naming the members when the group is running."""
    if info.members:
        who = ", ".join(f"{m.client_id}@{m.host.lstrip('/')}" for m in info.members)
        raise GroupActive(
            f"consumer group {info.group_id} has {len(info.members)} active member(s) ({who}); "
            "stop every instance of it first, then run the replay again"
        )


def plan_replay(
    admin: Any,
    probe: Any,
    group_id: str,
    topic: str,
    target: ReplayTarget,
    sql_store: SqlOffsetStore | None = None,
) -> ReplayPlan:
    """Compute the old and new offsets of every partition (changes nothing)."""
    partitions = topic_partitions(admin, topic)
    marks = watermarks(probe, topic, partitions)
    if target.kind == "earliest":
        new = {p: low for p, (low, _high) in marks.items()}
    elif target.kind == "latest":
        new = {p: high for p, (_low, high) in marks.items()}
    else:
        assert target.when is not None
        found = offsets_at(probe, topic, partitions, int(target.when.timestamp() * 1000))
        new = {
            p: marks[p][1] if found.get(p, -1) < 0 else max(marks[p][0], found[p])
            for p in partitions
        }
    old = committed_offsets(admin, group_id, topic, partitions)
    sql_old = sql_store.read() if sql_store is not None else {}
    moves = tuple(
        PartitionMove(
            partition=p,
            kafka_old=old.get(p, NO_OFFSET),
            sql_old=sql_old.get(p) if sql_store is not None else None,
            new=new[p],
        )
        for p in partitions
    )
    return ReplayPlan(group_id, topic, target, moves, sql_store is not None)


def format_plan(plan: ReplayPlan) -> str:
    """Return the plan as a table: partition, current offset(s), new offset."""
    with_sql = plan.with_sql
    header = f"{'partition':>9}  {'kafka now':>10}"
    header += f"  {'database now':>12}" if with_sql else ""
    header += f"  {'new':>10}"
    lines = [
        f"group {plan.group_id}, topic {plan.topic}, to {plan.target.describe()}",
        header,
    ]

    def show(offset: int | None) -> str:
        return "-" if offset is None or offset < 0 else str(offset)

    for m in plan.moves:
        line = f"{m.partition:>9}  {show(m.kafka_old):>10}"
        line += f"  {show(m.sql_old):>12}" if with_sql else ""
        lines.append(line + f"  {m.new:>10}")
    return "\n".join(lines)


def apply_replay(admin: Any, plan: ReplayPlan, sql_store: SqlOffsetStore | None) -> None:
    """Reset the Kafka offsets, then the database offsets of a SQL group."""
    alter_offsets(admin, plan.group_id, plan.topic, plan.new_offsets())
    if sql_store is not None:
        sql_store.rewrite(plan.new_offsets())


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `dbsync2 replay`."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--group", required=True, help="consumer group id (or its name)")
    p.add_argument("--campaign", required=True, help="campaign id (selects the events topic)")
    p.add_argument("--to", required=True, help="earliest | latest | ISO-8601 (naive = UTC)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument("--sql-url", help="a SQL group's database URL: rewrite its stored offsets")
    p.add_argument("--tp", default="", help="the SQL group's table prefix")
    p.add_argument("--bootstrap-servers", help="default $KAFKA_BOOTSTRAP_SERVERS")
    return p


def _sql_store(url_text: str, prefix: str, group_id: str, topic: str) -> SqlOffsetStore:
    from consumers.sql.urls import parse_database_url

    return SqlOffsetStore(sa.create_engine(parse_database_url(url_text)), prefix, group_id, topic)


def main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """Run `dbsync2 replay` and return its exit code."""
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(list(argv))
    bootstrap = args.bootstrap_servers or env.get("KAFKA_BOOTSTRAP_SERVERS", "")
    try:
        if not bootstrap:
            raise ValueError("set --bootstrap-servers or $KAFKA_BOOTSTRAP_SERVERS")
        target = parse_target(args.to)
    except ValueError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    admin, probe = make_admin(bootstrap), make_probe(bootstrap)
    topic = events_topic(args.campaign)
    sql_store: SqlOffsetStore | None = None
    try:
        group_id = resolve_group_id(admin, args.campaign, args.group)
        refuse_if_active(describe_group(admin, group_id))
        if args.sql_url:
            sql_store = _sql_store(args.sql_url, args.tp, group_id, topic)
        plan = plan_replay(admin, probe, group_id, topic, target, sql_store)
        print(format_plan(plan))
        if args.dry_run:
            print("dry run: nothing changed")
            return 0
        refuse_if_active(describe_group(admin, group_id))  # nobody joined meanwhile
        apply_replay(admin, plan, sql_store)
    except GroupActive as exc:
        print(f"{PROG}: refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (KafkaToolError, sa.exc.SQLAlchemyError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    finally:
        probe.close()
        if sql_store is not None:
            sql_store.dispose()
    done = "Kafka offsets reset"
    if sql_store is not None:
        done += f" and {sql_store.table_name} rewritten"
    print(f"{done}; start the group again to replay")
    return 0
