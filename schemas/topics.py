"""The topic catalogue: every topic the pipeline uses, declared once, with its dead-letter topic.

Producer, consumers, ops, docker-compose's topic initializer and tests read topic names and
settings from here, never from string literals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

# Keep everything by default: the topic is the replay source for rebuilding tables. See
# docs/operations.md for the disk cost per million events and how to choose a limit.
RETENTION_FOREVER_MS = -1


def sanitize_topic_part(value: str) -> str:
    """Return `value` with characters Kafka topic names disallow replaced by '_'."""
    if not value:
        raise ValueError("a topic name part must not be empty")
    return _UNSAFE.sub("_", value)


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name pattern, key, value schemas, sizing, retention and dead letters."""

    kind: str
    name_pattern: str
    key: str
    value_schemas: tuple[str, ...]
    partitions: int
    retention_ms: int
    cleanup_policy: str = "delete"
    description: str = ""
    dead_letter_kind: str | None = None
    extra_config: dict[str, str] = field(default_factory=dict)

    def name(self, **parts: str) -> str:
        """Return the concrete topic name, e.g. EVENTS.name(campaign="ABC")."""
        safe = {k: sanitize_topic_part(v) for k, v in parts.items()}
        return self.name_pattern.format(**safe)

    def config(self) -> dict[str, str]:
        """Return the topic-level configuration to create it with."""
        return {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": self.cleanup_policy,
        } | self.extra_config


EVENTS = TopicSpec(
    kind="events",
    name_pattern="dbsync2.{campaign}.events",
    key="contact id (UTF-8); 'inbound:<call id>' for inbound calls without a contact",
    value_schemas=(
        "contact_snapshot.v1.avsc",
        "transaction_event.v1.avsc",
        "inbound_call_event.v1.avsc",
    ),
    partitions=6,
    retention_ms=RETENTION_FOREVER_MS,
    description="Every change the producer saw in one campaign, in per-contact order.",
    dead_letter_kind="dead_letters",
    # Large contacts with 10,000-character custom values must fit; 8 MiB leaves ample room.
    extra_config={"max.message.bytes": str(8 * 1024 * 1024)},
)

DEAD_LETTERS = TopicSpec(
    kind="dead_letters",
    name_pattern="dbsync2.{campaign}.dlq.{group}",
    key="the original message key",
    value_schemas=("the original message bytes, unchanged",),
    partitions=1,
    retention_ms=RETENTION_FOREVER_MS,
    description="Events a consumer group gave up on, with the reason and origin in headers.",
    extra_config={"max.message.bytes": str(8 * 1024 * 1024)},
)

CATALOGUE: dict[str, TopicSpec] = {spec.kind: spec for spec in (EVENTS, DEAD_LETTERS)}


def events_topic(campaign_id: str) -> str:
    """Return the events topic of a campaign."""
    return EVENTS.name(campaign=campaign_id)


def dead_letter_topic(campaign_id: str, group: str) -> str:
    """Return the dead-letter topic of one consumer group of a campaign."""
    return DEAD_LETTERS.name(campaign=campaign_id, group=group)
