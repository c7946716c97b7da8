"""Pure parts of the relay: backoff, Retry-After, signing, rate limit, breaker, ledger, queues."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import cast

import pytest
from confluent_kafka import TopicPartition

from consumers.runtime.dead_letter import DeadLetterPublisher
from consumers.runtime.envelope import Envelope
from consumers.webhook.backoff import RetryPolicy
from consumers.webhook.breaker import CircuitBreaker
from consumers.webhook.config import ConfigError, parse_config
from consumers.webhook.dlq_store import RedriveMarks
from consumers.webhook.intake import IntakeGovernor
from consumers.webhook.ledger import OffsetLedger
from consumers.webhook.observer import RelayObserver
from consumers.webhook.partitions import KafkaConsumerLike, PartitionGate
from consumers.webhook.rate_limit import TokenBucket
from consumers.webhook.scheduler import (
    ContactScheduler,
    PendingEvent,
    PendingState,
    payload_size,
)
from consumers.webhook.sender import SecretRedactor, describe_url, parse_retry_after
from consumers.webhook.settings import RelaySettings, RelayStats
from consumers.webhook.signing import (
    RequestSigner,
    SigningKeyError,
    decode_signing_key,
    parse_header_option,
)
from tests.webhook.helpers import make_transaction


def test_full_jitter_backoff_grows_exponentially_and_is_capped() -> None:
    top = RetryPolicy(base_s=1.0, max_s=300.0, uniform=lambda lo, hi: hi)
    assert [top.retry_delay(n) for n in range(1, 11)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 300,
    ]  # fmt: skip
    bottom = RetryPolicy(uniform=lambda lo, hi: lo)
    assert bottom.retry_delay(5) == 0.0
    assert bottom.retry_delay(5, retry_after_s=12) == 12  # Retry-After is a floor ...
    assert bottom.retry_delay(5, retry_after_s=10_000) == 300  # ... up to its cap
    probes = RetryPolicy(probe_base_s=1.0, probe_max_s=30.0, uniform=lambda lo, hi: lo)
    assert [probes.probe_delay(n) for n in range(7)] == [0.5, 1, 2, 4, 8, 15, 15]


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    assert parse_retry_after("120", now.timestamp()) == 120
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(date, now.timestamp()) == pytest.approx(30)
    assert parse_retry_after("yesterday-ish", now.timestamp()) is None
    assert parse_retry_after(None, now.timestamp()) is None


def test_signature_matches_the_standard_webhooks_construction() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    signer = RequestSigner(decode_signing_key(secret), (("Authorization", "Bearer t"),))
    headers = signer.build_headers("msg_1", 1_700_000_000, b'{"a":1}')
    mac = hmac.new(b"k" * 24, b'msg_1.1700000000.{"a":1}', hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
    assert headers["Idempotency-Key"] == headers["webhook-id"] == "msg_1"
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Bearer t"
    assert decode_signing_key("raw") == b"raw"
    with pytest.raises(SigningKeyError) as info:
        decode_signing_key("whsec_!!not-base64!!")
    assert "not-base64" not in str(info.value)
    assert parse_header_option("X-A:  b c ") == ("X-A", "b c")
    with pytest.raises(ValueError, match="may not set webhook-id"):
        parse_header_option("webhook-id: x")


def test_token_bucket_limits_rate_and_burst() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=5, burst=10, clock=lambda: now[0])
    assert [bucket.try_acquire() for _ in range(10)] == [0.0] * 10
    assert bucket.try_acquire() == pytest.approx(0.2)
    now[0] = 1.0
    assert sum(bucket.try_acquire() == 0.0 for _ in range(20)) == 5


def test_breaker_opens_only_for_a_multi_contact_outage_or_refused_connections() -> None:
    one_contact: CircuitBreaker[int] = CircuitBreaker(threshold=5)
    assert all(one_contact.record_outage(i, "same", False) is None for i in range(50))
    assert not one_contact.is_open  # one contact's 500s are that event's problem
    breaker: CircuitBreaker[int] = CircuitBreaker(threshold=5)
    assert [breaker.record_outage(i, f"c{i % 2}", False) for i in range(4)] == [None] * 4
    breaker.record_success()  # a delivery resets the streak
    results = [breaker.record_outage(i, f"c{i % 2}", False) for i in range(5)]
    assert results[-1] == [0, 1, 2, 3, 4] and breaker.is_open
    breaker.record_success()
    assert not breaker.is_open
    refused: CircuitBreaker[int] = CircuitBreaker(threshold=5)
    assert [refused.record_outage(i, "same", True) for i in range(5)][-1] == [0, 1, 2, 3, 4]


def test_ledger_commits_only_below_the_first_unfinished_offset() -> None:
    ledger = OffsetLedger()
    for offset in range(10, 15):
        assert ledger.track(0, offset)
    assert not ledger.track(0, 12)  # a re-fetch is ignored
    ledger.mark_done(0, 11)
    ledger.mark_done(0, 13)
    assert ledger.committable() == {0: 10}
    ledger.mark_done(0, 10)
    assert ledger.committable() == {0: 12}
    ledger.mark_committed({0: 12})
    assert ledger.committable() == {}
    ledger.mark_done(0, 12)
    ledger.mark_done(0, 14)
    assert ledger.committable() == {0: 15} and ledger.pending_count() == 0


def _pending(contact: str, seq: int) -> PendingEvent:
    event = make_transaction("u", contact, seq)
    pending = PendingEvent(Envelope("t", 0, seq, contact.encode(), b"", 0), event, seq)
    pending.key = (0, contact)
    return pending


def test_scheduler_releases_a_contact_only_after_its_head_finishes() -> None:
    scheduler = ContactScheduler()
    a1, a2, b1 = _pending("a", 1), _pending("a", 2), _pending("b", 3)
    for item in (a1, a2, b1):
        scheduler.add(item)
    assert scheduler.pop_ready(0) is a1
    assert scheduler.pop_ready(0) is b1
    assert scheduler.pop_ready(0) is None  # a2 waits for a1
    scheduler.retry_at(a1, 5.0)
    assert scheduler.pop_ready(4.9) is None and scheduler.next_due() == 5.0
    assert scheduler.pop_ready(5.0) is a1
    scheduler.complete(a1)
    assert a2.state is PendingState.READY and scheduler.pop_ready(5.0) is a2
    assert len(scheduler) == 2
    assert [p.seq for p in scheduler.drop_partitions({0})] == [2, 3]


def test_scheduler_counts_the_payload_bytes_it_holds() -> None:
    scheduler = ContactScheduler()
    items = [_pending("a", 1), _pending("a", 2), _pending("b", 3)]
    for size, item in zip((100, 20, 3), items, strict=True):
        item.size = size
        scheduler.add(item)
    assert scheduler.buffered_bytes == 123
    first = scheduler.pop_ready(0)
    assert first is items[0]
    scheduler.complete(first)
    assert scheduler.buffered_bytes == 23
    scheduler.complete(first)  # not the head any more: nothing changes
    assert scheduler.buffered_bytes == 23
    scheduler.drop_partitions({0})
    assert (scheduler.buffered_bytes, len(scheduler)) == (0, 0)
    envelope = Envelope("t", 0, 1, b"key", b"value!", 0)
    assert payload_size(envelope) == 9
    assert payload_size(Envelope("t", 0, 1, None, None, 0)) == 0


def test_byte_bound_is_configurable_and_validated() -> None:
    env = {"DBSYNC_URL": "https://example.com/h", "DBSYNC_CAMPAIGN": "C",
           "KAFKA_BOOTSTRAP_SERVERS": "k:9092"}  # fmt: skip
    assert parse_config([], env).max_buffered_bytes == 32 * 1024 * 1024
    assert parse_config([], {**env, "DBSYNC_MAX_BUFFERED_BYTES": "1000"}).max_buffered_bytes == 1000
    with pytest.raises(ConfigError, match="max-buffered-bytes"):
        parse_config(["--max-buffered-bytes", "0"], env)


def test_redrive_marks_round_trip_through_commit_metadata() -> None:
    marks = RedriveMarks()
    marks.add([0, 1, 5, 6, 7, 9])
    assert marks.low == 2 and marks.metadata() == "[[5,7],[9,9]]"
    again = RedriveMarks.from_commit(marks.low, marks.metadata())
    assert [again.contains(o) for o in range(11)] == [
        True, True, False, False, False, True, True, True, False, True, False,
    ]  # fmt: skip


def test_config_defaults_follow_the_original_and_env_vars_work() -> None:
    env = {"DBSYNC_URL": "https://u:p@example.com/h", "DBSYNC_CAMPAIGN": "C",
           "KAFKA_BOOTSTRAP_SERVERS": "k:9092", "DBSYNC_W": "64", "DBSYNC_WR": "0"}  # fmt: skip
    config = parse_config([], env)
    assert (config.in_flight, config.rate, config.burst) == (64, 5.0, 10.0)
    assert config.max_attempts == 10 and config.verify_tls and config.timeout_s == 30
    assert parse_config(["--wr", "2000", "--wb", "50"], env).rate == 2000
    with pytest.raises(ConfigError, match="DBSYNC_W must be a int"):
        parse_config([], env | {"DBSYNC_W": "many"})


def test_redaction_hides_secrets_and_url_credentials() -> None:
    redactor = SecretRedactor(["Bearer abc123", "whsec_xyz="])
    assert redactor.redact("got Bearer abc123 and whsec_xyz=") == "got *** and ***"
    assert describe_url("https://user:pw@host:8443/p/a?token=s") == "https://host:8443/p/a"


class _Consumer:
    """Just enough of a Kafka consumer for PartitionGate's pause/resume."""

    def __init__(self) -> None:
        self.paused: set[int] = set()

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("t", p) for p in range(3)]

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused.update(tp.partition for tp in partitions)

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused.difference_update(tp.partition for tp in partitions)


def test_intake_holds_first_pauses_after_a_long_hold_and_releases_below_half() -> None:
    now = [0.0]
    settings = RelaySettings(max_buffered=4, max_buffered_bytes=1000, hold_before_pause_s=15.0)
    scheduler, stats = ContactScheduler(), RelayStats()
    intake = IntakeGovernor(settings, scheduler, stats, RelayObserver("g", ""), lambda: now[0])
    consumer = _Consumer()
    gate = PartitionGate(cast(KafkaConsumerLike, consumer), "t", cast(DeadLetterPublisher, None))
    items = [_pending(f"c{i}", i) for i in range(5)]
    for item in items:
        item.size = 10
        scheduler.add(item)
    intake.note_size(10)
    intake.update(gate, breaker_open=False)  # 5 > 4 events: held, not paused
    assert not intake.may_consume(gate) and not consumer.paused
    assert stats.backpressure_pauses == 1
    now[0] = 15.0
    intake.update(gate, breaker_open=False)  # held for 15 s: paused (consume polls again)
    assert consumer.paused == {0, 1, 2} and intake.may_consume(gate)
    for item in items[:2]:
        scheduler.complete(scheduler.pop_ready(now[0]) or item)
    intake.update(gate, breaker_open=False)  # 3 events: still above half (2)
    assert consumer.paused
    scheduler.complete(scheduler.pop_ready(now[0]) or items[2])
    intake.update(gate, breaker_open=False)  # 2 events: released and resumed
    assert not consumer.paused and intake.may_consume(gate)
    assert intake.batch_size() == 2  # room for 2 events (4 - 2); bytes leave room for 98
    big = _pending("big", 9)
    big.size = 995
    scheduler.add(big)
    intake.update(gate, breaker_open=False)  # 1015 bytes > 1000: held by the byte bound
    assert not intake.may_consume(gate) and stats.max_buffered_bytes_seen == 1015
    assert stats.backpressure_pauses == 2
