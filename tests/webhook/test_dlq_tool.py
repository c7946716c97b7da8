"""`dbsync2 dlq` lists, shows and redrives dead letters; a redrive never repeats."""

from __future__ import annotations

import json

import pytest

from consumers.webhook import dlq_tool
from tests.support.receiver import WebhookReceiver
from tests.support.waiting import wait_for
from tests.webhook.helpers import (
    Campaign,
    RelayRunner,
    make_transaction,
    produce_events,
    read_topic,
    wait_delivered,
)

pytestmark = pytest.mark.integration


def run_dlq(capsys: pytest.CaptureFixture[str], campaign: Campaign, *args: str) -> tuple[int, str]:
    command, *rest = args
    argv = [command, "--campaign", campaign.id, "--group", campaign.group,
            "--bootstrap-servers", campaign.bootstrap, *rest]  # fmt: skip
    code = dlq_tool.main(argv, environ={})
    return code, capsys.readouterr().out


def test_list_show_and_redrive_to_topic_and_to_url(
    campaign: Campaign,
    receiver: WebhookReceiver,
    relay_runner: RelayRunner,
    capsys: pytest.CaptureFixture[str],
) -> None:
    receiver.always("bad", 500)
    receiver.always("worse", 422)
    bad = [make_transaction(campaign.id, "bad", i) for i in range(2)]
    worse = make_transaction(campaign.id, "worse", 5)
    good = make_transaction(campaign.id, "good", 9)
    produce_events(campaign.bootstrap, campaign.topic, [*bad, worse, good])
    relay = relay_runner.start(receiver.url)
    read_topic(campaign.bootstrap, campaign.dlq_topic, 3)
    assert relay.wait_caught_up(30)

    code, out = run_dlq(capsys, campaign, "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert {r["event_id"] for r in rows} == {e.event_id for e in [*bad, worse]}
    assert {r["status"] for r in rows} == {"500", "422"}
    assert all(r["attempts"] == "10" and not r["redriven"] for r in rows)
    code, out = run_dlq(capsys, campaign, "list", "--json", "--status", "500")
    assert [r["event_id"] for r in json.loads(out)] == [e.event_id for e in bad]
    code, out = run_dlq(capsys, campaign, "list", "--json", "--contact", "worse")
    [row] = json.loads(out)
    assert row["event_id"] == worse.event_id
    code, out = run_dlq(capsys, campaign, "list", "--json", "--since", "2999-01-01T00:00:00")
    assert json.loads(out) == []

    code, out = run_dlq(capsys, campaign, "show", "--offset", str(row["offset"]))
    assert code == 0
    [shown] = json.loads(out)
    assert shown["payload"] == worse.webhook_payload()
    assert shown["headers"]["dbsync2.dlq.last_status"] == "422"

    receiver.clear_rules()  # the receiver is fixed
    before = len(receiver.requests())
    code, out = run_dlq(capsys, campaign, "redrive", "--status", "500", "--dry-run")
    assert code == 0 and out.count("would re-publish") == 2
    assert len(receiver.requests()) == before

    # Re-publish the 500s to the events topic: the running relay sends them again, same ids.
    code, out = run_dlq(capsys, campaign, "redrive", "--status", "500", "--to-topic")
    assert code == 0 and "2 dead letter(s) redriven" in out
    wait_delivered(receiver, {e.event_id for e in bad})
    for event in bad:
        [ok] = [r for r in receiver.delivered() if r.event_id == event.event_id]
        assert ok.payload == event.webhook_payload()

    # Re-POST the rest directly; the already redriven ones are not repeated.
    code, out = run_dlq(capsys, campaign, "redrive", "--to-url", receiver.url)
    assert code == 0 and "1 dead letter(s) redriven" in out
    [ok] = [r for r in receiver.delivered() if r.event_id == worse.event_id]
    assert ok.headers["idempotency-key"] == worse.event_id
    assert ok.payload == worse.webhook_payload()

    settled = len(receiver.requests())
    code, out = run_dlq(capsys, campaign, "redrive")
    assert code == 0 and "0 dead letter(s)" in out
    code, out = run_dlq(capsys, campaign, "list", "--json")
    assert all(r["redriven"] for r in json.loads(out))
    assert relay.wait_caught_up(30)
    wait_for(lambda: len(receiver.requests()) == settled, timeout=5)
    assert receiver.delivered_event_ids() == {e.event_id for e in [*bad, worse, good]}


def test_redrive_to_a_bad_url_fails_clearly(
    campaign: Campaign, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["redrive", "--campaign", campaign.id, "--bootstrap-servers", campaign.bootstrap,
            "--to-url", "ftp://x/y"]  # fmt: skip
    assert dlq_tool.main(argv, environ={}) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "dbsync2 dlq: error: --url must be an http or https URL, not ftp://"
    ]
