"""`dbsync2 topics apply`: creates the catalogue's topics once, then reports them as existing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from dbsync2.topics_cmd import main
from schemas.topics import DEAD_LETTERS, EVENTS, dead_letter_topic, events_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def campaign(kafka_bootstrap: str, unique_id: str) -> Iterator[str]:
    campaign_id = f"TOPICS{unique_id}"
    yield campaign_id
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    names = [events_topic(campaign_id), dead_letter_topic(campaign_id, "sql")]
    for future in admin.delete_topics(names, operation_timeout=30).values():
        future.result(timeout=30)


def test_apply_creates_topics_from_the_catalogue_and_is_idempotent(
    campaign: str, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["apply", "--c", campaign, "--groups", "sql", "--bootstrap-servers", kafka_bootstrap]
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()
    assert first == [
        f"created  {events_topic(campaign)} ({EVENTS.partitions} partitions)",
        f"created  {dead_letter_topic(campaign, 'sql')} ({DEAD_LETTERS.partitions} partitions)",
    ]
    assert main(argv) == 0
    second = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in second] == ["exists", "exists"]

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, events_topic(campaign))
    config = admin.describe_configs([resource])[resource].result(timeout=30)
    for key, value in EVENTS.config().items():
        assert config[key].value == value


def test_apply_without_a_campaign_fails_with_the_legacy_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DBSYNC_C", raising=False)
    assert main(["apply"]) == 1
    assert capsys.readouterr().err.strip() == "Campaign ID (--c) is required"
