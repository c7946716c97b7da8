"""`--fm`/`--fp`: the transactions published are exactly those the original's §4.7 filter keeps."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from ops.truth.oracle import transaction_selected
from producer.clock import format_query_time
from producer.filters import TransactionFilter
from schemas.events import ContactSnapshot, TransactionEvent
from tests.producer.conftest import TOKEN, ProducerHandle, SimHandle
from tests.producer.support import (
    assert_topic_matches_truth,
    content_of,
    expected_entities,
    latest_by_entity,
)


@pytest.mark.parametrize(
    ("fm", "fp"),
    [("updates_only", ""), ("hi_updates_only", ""), ("", "fc_,qc_"), ("hi_updates_only", "sales")],
)
def test_initial_load_publishes_exactly_the_filtered_transactions(
    fm: str,
    fp: str,
    start_sim: Callable[..., SimHandle],
    make_producer: Callable[..., ProducerHandle],
) -> None:
    sim = start_sim(contacts=80, inbound_calls=5)
    handle = make_producer(sim, transaction_filter=TransactionFilter.from_flags(fm, fp))

    handle.producer.run_initial_load()

    truth = sim.truth()
    records = handle.records()
    assert_topic_matches_truth(records, truth, fm, fp)
    everything = expected_entities(truth)
    kept = expected_entities(truth, fm, fp)
    tx_all = sum(1 for kind, _ in everything if kind == "transaction")
    tx_kept = sum(1 for r in records if isinstance(r.event, TransactionEvent))
    assert 0 < tx_kept < tx_all  # the filter really filters, and not everything away
    assert tx_kept == sum(1 for kind, _ in kept if kind == "transaction")
    # Contacts are always snapshotted, whatever the filter.
    assert sum(isinstance(r.event, ContactSnapshot) for r in records) == len(truth["contacts"])


def test_polling_applies_the_filter_server_side_and_per_transaction(
    start_sim: Callable[..., SimHandle], make_producer: Callable[..., ProducerHandle]
) -> None:
    fm, fp = "updates_only", "fc_,qc_,sales"
    sim = start_sim(contacts=40, inbound_calls=0)
    handle = make_producer(sim, transaction_filter=TransactionFilter.from_flags(fm, fp))
    handle.producer.run_initial_load()
    checkpoint = handle.producer.state.checkpoint()
    assert checkpoint is not None
    initial = len(handle.records())
    sim.activity(40)

    handle.producer.run_poll_cycle()

    # The contacts the original would fetch: those the server names for the filtered E4 query.
    window_start = format_query_time(checkpoint - handle.producer.settings.overlap)
    named = server_named_contacts(sim, window_start, {"type": "update", "tasks": fp})
    assert named
    truth = sim.truth()
    kept = expected_entities(truth, fm, fp)
    records = handle.records()
    latest = latest_by_entity(records)
    for (kind, entity_id), want in kept.items():
        if want["key"] in named:
            assert (kind, entity_id) in latest, (kind, entity_id)
            assert content_of(latest[(kind, entity_id)].event) == want["content"]
    polled = [r.event for r in records[initial:] if isinstance(r.event, TransactionEvent)]
    assert polled
    for event in polled:
        assert transaction_selected(event.transaction_as_delivered(), fm, fp)


def server_named_contacts(sim: SimHandle, start: str, params: dict[str, str]) -> set[str]:
    """Contact ids of E4 events from `start` on, asked of the simulator directly."""
    response = requests.get(
        f"{sim.server.url}/api/campaigns/{sim.campaign_id}/contacts/transactions/",
        params={**params, "from": start, "limit": "1000"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    response.raise_for_status()
    body = response.json()
    assert body["cursor"] == ""
    return {event.split("|")[2] for event in body["results"]}
