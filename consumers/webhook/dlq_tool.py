"""`dbsync2 dlq list|show|redrive`: inspect a group's dead letters and send them again.

Redrive re-publishes the original key, bytes and headers to the events topic (the relay then
delivers them again under the same event id), or re-POSTs them directly with the same
idempotency id. Redriven offsets are remembered (dlq_store.py) so a redrive never repeats;
`--dry-run` only prints what would happen. Exit codes: 0 done, 1 bad usage or a failed redrive.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from confluent_kafka import Consumer, KafkaException, Producer

from consumers.runtime.kafka_config import producer_config
from consumers.webhook.backoff import RetryPolicy
from consumers.webhook.config import ConfigError, RelayConfig, read_secret, validate_url
from consumers.webhook.dlq_store import (
    DeadLetterFilter,
    DeadLetterRecord,
    RedriveMarks,
    load_marks,
    parse_since,
    read_dead_letters,
    redrive_group_id,
    save_marks,
)
from consumers.webhook.sender import WebhookSender
from consumers.webhook.service import build_sender, build_session
from consumers.webhook.signing import parse_header_option
from schemas import DecodeError, TransactionEvent, decode_event
from schemas import headers as h
from schemas.topics import dead_letter_topic, events_topic

PROG = "dbsync2 dlq"
REDRIVE_SOURCE_HEADER = "dbsync2.redrive.source"  # "<dlq topic>:<partition>:<offset>"
DLQ_HEADER_PREFIX = "dbsync2.dlq."


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def build_parser(env: Mapping[str, str]) -> _Parser:
    """Return the parser of the three subcommands (defaults from the environment)."""
    parser = _Parser(prog=PROG, description="Inspect and redrive dead letters.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("list", "show", "redrive"):
        p = sub.add_parser(name)
        p.add_argument("--campaign", default=env.get("DBSYNC_CAMPAIGN"))
        p.add_argument("--group", default=env.get("DBSYNC_GROUP", "webhook"))
        p.add_argument("--bootstrap-servers", default=env.get("KAFKA_BOOTSTRAP_SERVERS"))
        p.add_argument("--contact", help="only dead letters of this contact id")
        p.add_argument("--since", help="dead-lettered at or after (ISO-8601 or Unix seconds)")
        p.add_argument("--status", help="last HTTP status, e.g. 500 ('none': no answer)")
        p.add_argument("--offset", type=int, required=name == "show")
        p.add_argument("--json", action="store_true", help="machine-readable output")
    redrive = sub.choices["redrive"]
    target = redrive.add_mutually_exclusive_group()
    target.add_argument(
        "--to-topic", nargs="?", const="", default=None, help="re-publish (default: origin topic)"
    )
    target.add_argument("--to-url", help="re-POST directly to this URL")
    redrive.add_argument("--dry-run", action="store_true")
    redrive.add_argument("--header", action="append", default=[])
    redrive.add_argument("--signing-secret-file", default=env.get("DBSYNC_WEBHOOK_SECRET_FILE"))
    redrive.add_argument("--timeout-s", type=float, default=30.0)
    redrive.add_argument("--max-attempts", type=int, default=3)
    redrive.add_argument("--insecure-skip-verify", action="store_true")
    return parser


def make_reader(bootstrap: str, group_id: str) -> Consumer:
    """Return a consumer that reads by assignment and commits only when told to."""
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
        }
    )


def describe(record: DeadLetterRecord) -> dict[str, Any]:
    """Return everything about one dead letter, the decoded event included."""
    out = record.summary() | {
        "headers": {k: v.decode("utf-8", "replace") for k, v in record.headers}
    }
    try:
        event = decode_event(record.value)
    except DecodeError as exc:
        out["decode_error"] = str(exc)
        out["value_hex_prefix"] = (record.value or b"")[:64].hex()
        return out
    out["event_type"] = type(event).__name__
    if isinstance(event, TransactionEvent):
        out["payload"] = event.webhook_payload()
    return out


def print_records(
    records: Sequence[DeadLetterRecord], marks: dict[int, RedriveMarks], as_json: bool
) -> None:
    """Print the `list` output."""
    rows = [r.summary() | {"redriven": marks[r.partition].contains(r.offset)} for r in records]
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        print(
            f"{row['partition']}:{row['offset']}  {row['dead_lettered_at']}  "
            f"status={row['status'] or '-'}  attempts={row['attempts'] or '-'}  "
            f"contact={row['contact']}  event={row['event_id']}  {row['error_class']}"
            + ("  [redriven]" if row["redriven"] else "")
        )
    print(f"{len(rows)} dead letter(s)")


def republish(
    records: Sequence[DeadLetterRecord], bootstrap: str, topic: str, dlq_topic: str, fallback: str
) -> None:
    """Produce the original key, bytes and headers again; raise KafkaException if not confirmed."""
    producer = Producer(producer_config(bootstrap))
    failures: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    for record in records:
        target = topic or record.header(h.DLQ_ORIGINAL_TOPIC) or fallback
        headers: list[tuple[str, str | bytes | None]] = [
            (k, v) for k, v in record.headers if not k.startswith(DLQ_HEADER_PREFIX)
        ]
        headers.append(
            (REDRIVE_SOURCE_HEADER, f"{dlq_topic}:{record.partition}:{record.offset}".encode())
        )
        producer.produce(target, value=record.value, key=record.key, headers=headers,
                         on_delivery=on_delivery)  # fmt: skip
        producer.poll(0)
    if producer.flush(60) or failures:
        raise KafkaException(f"re-publishing was not confirmed: {'; '.join(failures[:3])}")


def repost(record: DeadLetterRecord, sender: WebhookSender, attempts: int) -> str | None:
    """POST one dead letter directly; return None on success, else why it failed."""
    try:
        event = decode_event(record.value)
    except DecodeError as exc:
        return f"cannot decode: {exc}"
    if not isinstance(event, TransactionEvent):
        return f"a {type(event).__name__} is not sent to web services"
    policy = RetryPolicy()
    reason = ""
    for attempt in range(1, attempts + 1):
        result = sender.send(event)
        if result.delivered:
            return None
        reason = result.error
        if attempt < attempts:
            time.sleep(policy.retry_delay(attempt, result.retry_after_s))
    return reason


def run_redrive(
    args: argparse.Namespace,
    env: Mapping[str, str],
    records: list[DeadLetterRecord],
    marks: dict[int, RedriveMarks],
    reader: Consumer,
    dlq_topic: str,
) -> int:
    """Redrive `records` (already filtered, not yet redriven) and record their offsets."""
    mode = f"POST to {args.to_url.split('?')[0]}" if args.to_url else "re-publish"
    for record in records:
        verb = "would" if args.dry_run else "will"
        print(f"{verb} {mode}: {record.partition}:{record.offset} contact={record.contact} "
              f"event={record.summary()['event_id']}")  # fmt: skip
    if args.dry_run or not records:
        print(f"{len(records)} dead letter(s) {'would be' if args.dry_run else ''} redriven")
        return 0
    done: list[DeadLetterRecord] = []
    status = 0
    if args.to_url:
        config = _post_config(args, env)
        sender = build_sender(config, build_session(4))
        for record in records:
            reason = repost(record, sender, args.max_attempts)
            if reason is not None:
                print(f"{PROG}: redrive stopped at {record.partition}:{record.offset}: {reason}",
                      file=sys.stderr)  # fmt: skip
                status = 1
                break
            done.append(record)
    else:
        target = args.to_topic or ""  # "" = each letter's original topic
        republish(records, args.bootstrap_servers, target, dlq_topic, events_topic(args.campaign))
        done = list(records)
    for record in done:
        marks[record.partition].add([record.offset])
    save_marks(reader, dlq_topic, marks)
    print(f"{len(done)} dead letter(s) redriven")
    return status


def _post_config(args: argparse.Namespace, env: Mapping[str, str]) -> RelayConfig:
    headers = tuple(parse_header_option(text) for text in args.header)
    return RelayConfig(
        url=validate_url(args.to_url), campaign=args.campaign, group=args.group,
        bootstrap_servers=args.bootstrap_servers, in_flight=1, rate=1.0, burst=1.0,
        timeout_s=args.timeout_s, headers=headers,
        signing_secret=read_secret(args.signing_secret_file, env),
        max_attempts=args.max_attempts, verify_tls=not args.insecure_skip_verify,
        retry_base_s=1.0, retry_max_s=30.0, retry_after_cap_s=60.0, probe_base_s=1.0,
        probe_max_s=1.0, breaker_threshold=5, max_buffered=1, max_consecutive_dead_letters=0,
    )  # fmt: skip


def main(argv: list[str], environ: Mapping[str, str] | None = None) -> int:
    """Run `dbsync2 dlq ...` and return its exit code."""
    env = os.environ if environ is None else environ
    try:
        args = build_parser(env).parse_args(argv)
        if not args.campaign or not args.bootstrap_servers:
            raise ConfigError("--campaign and --bootstrap-servers (or their env vars) are required")
        if getattr(args, "to_url", None):
            _post_config(args, env)  # validate before touching Kafka
        since = parse_since(args.since) if args.since else None
    except (ConfigError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    selection = DeadLetterFilter(args.contact, since, args.status, args.offset)
    dlq_topic = dead_letter_topic(args.campaign, args.group)
    reader = make_reader(args.bootstrap_servers, redrive_group_id(args.group))
    try:
        records = [r for r in read_dead_letters(reader, dlq_topic) if selection.matches(r)]
        marks = load_marks(reader, dlq_topic, {r.partition for r in records})
        if args.command == "list":
            print_records(records, marks, args.json)
            return 0
        if args.command == "show":
            if not records:
                print(f"{PROG}: no dead letter at offset {args.offset} in {dlq_topic}",
                      file=sys.stderr)  # fmt: skip
                return 1
            print(json.dumps([describe(r) for r in records], indent=2, ensure_ascii=False))
            return 0
        todo = [r for r in records if not marks[r.partition].contains(r.offset)]
        return run_redrive(args, env, todo, marks, reader, dlq_topic)
    except (KafkaException, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        reader.close()
