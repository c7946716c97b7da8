"""Generate a deterministic, realistic set of events for testing a consumer group.

Several contacts, agents and days; transactions with phone and transfer connections, some
updated later (a second event with a higher version), interleaved contact snapshots, and one
same-fired duplicate. Used by the conformance suite; any group's tests may use it too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import (
    CampaignId,
    Connection,
    ContactId,
    ContactSnapshot,
    Event,
    EventId,
    TransactionEvent,
    TransactionState,
    derive_event_id,
    derive_transaction_id,
)

_BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
AGENTS = ("anna", "ben", "chris")


def _fired(minutes: int) -> str:
    return (
        (_BASE + timedelta(minutes=minutes))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def transaction_event(
    campaign: str,
    contact: str,
    minutes: int,
    agent: str,
    durations: tuple[object, ...],
    version: int,
    state: TransactionState = TransactionState.NEW,
) -> TransactionEvent:
    """Return one transaction event with a phone connection per duration, plus one transfer."""
    fired = _fired(minutes)
    tid = derive_transaction_id(contact, fired)
    phones = [
        Connection({"id": f"{tid}-{i}", "technology": "phone", "duration": d})
        for i, d in enumerate(durations)
    ]
    connections = (*phones, Connection({"id": f"{tid}-x", "technology": "transfer"}))
    return TransactionEvent(
        event_id=EventId(derive_event_id(campaign, "transaction", tid, str(version))),
        campaign_id=CampaignId(campaign),
        contact_id=ContactId(contact),
        version=version,
        observed_at=_BASE + timedelta(seconds=version % 1_000_000),
        fired=fired,
        transaction_id=tid,
        state=state,
        task_log_index=0,
        transaction_index=minutes,
        contact={"$id": contact},
        transaction={"fired": fired, "user": agent, "status": "success"},
        connections=connections,
        has_connections=True,
    )


def contact_snapshot(campaign: str, contact: str, version: int) -> ContactSnapshot:
    """Return a contact snapshot (groups that only count transactions must ignore it)."""
    return ContactSnapshot(
        event_id=EventId(derive_event_id(campaign, "contact", contact, str(version))),
        campaign_id=CampaignId(campaign),
        contact_id=ContactId(contact),
        version=version,
        observed_at=_BASE + timedelta(seconds=version % 1_000_000),
        contact={"$id": contact, "firstname": f"F{contact}"},
        md5=f"{version:032x}",
    )


def sample_events(campaign: str, contacts: int = 12, per_contact: int = 5) -> list[Event]:
    """Return events in production order (versions strictly increasing)."""
    events: list[Event] = []
    version = 1_000_000
    for round_ in range(per_contact):
        for c in range(contacts):
            contact = f"C{c:04d}"
            version += 1
            if round_ == 0:
                events.append(contact_snapshot(campaign, contact, version))
                version += 1
            minutes = round_ * 24 * 60 // 2 + c * 3  # two rounds per day: spans several days
            agent = AGENTS[(c + round_) % len(AGENTS)]
            durations = (30 + c, 10 * round_) if c % 3 else (45 + round_,)
            events.append(transaction_event(campaign, contact, minutes, agent, durations, version))
            if c % 4 == 0:  # the same transaction, updated: longer talk time, newer version
                version += 1
                longer = tuple(int(d) + 60 for d in durations if isinstance(d, int))
                events.append(
                    transaction_event(
                        campaign,
                        contact,
                        minutes,
                        agent,
                        longer,
                        version,
                        TransactionState.UPDATED,
                    )
                )
    return events
