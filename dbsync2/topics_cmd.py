"""`dbsync2 topics apply|list`: create a campaign's topics from the catalogue (schemas.topics).

Idempotent: existing topics are left as they are (their partition count is reported, never
changed), so the docker-compose initializer can run on every `up`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schemas.topics import DEAD_LETTERS, EVENTS, dead_letter_topic, events_topic

DEFAULT_GROUPS = ("sql", "webhook")
_POLL_S = 1.0


class KafkaUnavailableError(Exception):
    """Kafka did not answer within the allowed time."""


@dataclass(frozen=True)
class PlannedTopic:
    """A topic the catalogue says should exist, with the settings to create it with."""

    name: str
    partitions: int
    config: dict[str, str]


def plan_topics(
    campaign_id: str, groups: Sequence[str], partitions: int | None
) -> list[PlannedTopic]:
    """Return the events topic and one dead-letter topic per consumer group."""
    planned = [
        PlannedTopic(events_topic(campaign_id), partitions or EVENTS.partitions, EVENTS.config())
    ]
    for group in groups:
        planned.append(
            PlannedTopic(
                dead_letter_topic(campaign_id, group),
                DEAD_LETTERS.partitions,
                DEAD_LETTERS.config(),
            )
        )
    return planned


def wait_for_kafka(bootstrap: str, timeout: float) -> Any:
    """Return an AdminClient once the cluster answers a metadata request, else raise."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            admin.list_topics(timeout=max(0.5, min(5.0, remaining)))
            return admin
        except KafkaException:
            if time.monotonic() >= deadline:
                raise KafkaUnavailableError(
                    f"Kafka unreachable at {bootstrap} within {timeout:g} s"
                ) from None
            time.sleep(_POLL_S)


def apply_topics(admin: Any, planned: Sequence[PlannedTopic], replication: int = 1) -> list[str]:
    """Create the missing topics; return one report line per topic."""
    from confluent_kafka import KafkaError
    from confluent_kafka.cimpl import NewTopic  # the typed home of NewTopic

    existing = admin.list_topics(timeout=10).topics
    report: list[str] = []
    missing = []
    for topic in planned:
        if topic.name in existing:
            count = len(existing[topic.name].partitions)
            report.append(f"exists   {topic.name} ({count} partitions)")
        else:
            missing.append(topic)
    if missing:
        futures = admin.create_topics(
            [
                NewTopic(
                    t.name,
                    num_partitions=t.partitions,
                    replication_factor=replication,
                    config=t.config,
                )
                for t in missing
            ]
        )
        for topic in missing:
            try:
                futures[topic.name].result(timeout=30)
                report.append(f"created  {topic.name} ({topic.partitions} partitions)")
            except Exception as exc:
                error = exc.args[0] if exc.args else None
                if getattr(error, "code", lambda: None)() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                report.append(f"exists   {topic.name} (created concurrently)")
    return report


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `dbsync2 topics`."""
    parser = argparse.ArgumentParser(prog="dbsync2 topics", description=__doc__)
    parser.add_argument("action", choices=["apply", "list"])
    parser.add_argument(
        "--c",
        "--campaign",
        dest="campaign",
        default=os.environ.get("DBSYNC_C", ""),
        help="campaign id (env DBSYNC_C)",
    )
    parser.add_argument(
        "--groups",
        default=",".join(DEFAULT_GROUPS),
        help="consumer groups that get a dead-letter topic (comma-separated)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help=f"events topic partitions (default {EVENTS.partitions})",
    )
    parser.add_argument("--replication", type=int, default=1, help="replication factor")
    parser.add_argument(
        "--bootstrap-servers",
        default=None,
        help="Kafka (default $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)",
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for Kafka to answer"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `dbsync2 topics`; return the exit code."""
    args = build_parser().parse_args(argv)
    if not args.campaign:
        print("Campaign ID (--c) is required", file=sys.stderr)
        return 1
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    planned = plan_topics(args.campaign, groups, args.partitions)
    if args.action == "list":
        for topic in planned:
            print(f"{topic.name}\t{topic.partitions}\t{topic.config}")
        return 0
    bootstrap = (
        args.bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092"
    )
    try:
        admin = wait_for_kafka(bootstrap, args.timeout)
        for line in apply_topics(admin, planned, args.replication):
            print(line, flush=True)
    except KafkaUnavailableError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0
