"""Build a legacy run's producer and consumer group from the services' own programmatic APIs.

The producer runs through `producer.service.run_service` (load: `initial`/`since`/one cycle;
follow: `continuous`), the SQL group through `consumers.sql.service.run_sql_group`, the webhook
relay through `consumers.webhook.service.build_relay`. Settings are handed over as the services'
own flags, so their validation and defaults apply unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from dbsync2.kafka_offsets import OffsetReader
from dbsync2.legacy_config import LegacySettings
from schemas.topics import dead_letter_topic, events_topic

log = logging.getLogger(__name__)

SQL_GROUP = "sql"
WEBHOOK_GROUP = "webhook"
TABLES = ("contacts", "transactions", "connections", "recordings", "inbound_calls")


def _start_datetime(text: str) -> datetime:
    from producer.cli_args import parse_start_date

    return parse_start_date(text)


def producer_settings(settings: LegacySettings, mode: str, once: bool = False) -> Any:
    """Return `producer.settings.ServiceSettings` for one producer phase of a legacy run."""
    from producer.cli_args import resolve_state_dir
    from producer.filters import TransactionFilter
    from producer.settings import ProducerSettings, ServiceSettings

    since = _start_datetime(settings.start) if settings.start else None
    return ServiceSettings(
        producer=ProducerSettings(
            campaign_id=settings.campaign_id,
            transaction_filter=TransactionFilter.from_flags(
                settings.filter_mode, ",".join(settings.task_prefixes) or None
            ),
            since=since,
            interval=timedelta(seconds=settings.poll_interval),
        ),
        token=settings.token,
        mode=mode,
        api_url=settings.api_url,
        bootstrap_servers=settings.kafka_bootstrap,
        state_dir=resolve_state_dir(settings.state_dir),
        log_dir=settings.log_dir,
        verbose=settings.verbose,
        once=once,
    )


def load_phase(settings: LegacySettings) -> tuple[str, bool]:
    """Return (producer mode, once) for the first phase: what the legacy mode must load first."""
    if settings.mode == "db_init":
        return "initial", False
    if settings.start:  # db_update always has one (default: 7 days back)
        return "since", False
    # db_sync / webhook without --s: one cycle = initial load without a checkpoint, else a poll
    # from the checkpoint (the original's "start from the checkpoint").
    return "continuous", True


class LegacyParts:
    """The producer and consumer group of one legacy run (see pipeline.PipelineParts)."""

    def __init__(self, settings: LegacySettings) -> None:
        self.settings = settings
        self.events_topic = events_topic(settings.campaign_id)
        self.group = SQL_GROUP if settings.is_database_mode else WEBHOOK_GROUP
        self.dead_letter_topic = dead_letter_topic(settings.campaign_id, self.group)
        self._materializer: Any = None
        self._ready = threading.Event()

    # --- producer -------------------------------------------------------------------------------

    def run_load(self, stop: threading.Event) -> None:
        """Publish what the mode loads first; return once Kafka confirmed it."""
        from producer.service import run_service

        mode, once = load_phase(self.settings)
        run_service(producer_settings(self.settings, mode, once), stop)

    def run_follow(self, stop: threading.Event) -> None:
        """Poll Dialfire every minute and publish changes until `stop` is set."""
        from producer.service import run_service

        follow = producer_settings(self.settings, "continuous")
        run_service(dataclasses.replace(follow, producer=dataclasses.replace(
            follow.producer, since=None)), stop)  # fmt: skip

    # --- consumer group -------------------------------------------------------------------------

    def run_consumer(self, stop: threading.Event) -> None:
        """Run the SQL group or the webhook relay until `stop` is set."""
        if self.settings.is_database_mode:
            self._run_sql(stop)
        else:
            self._run_webhook(stop)

    def _run_sql(self, stop: threading.Event) -> None:
        from consumers.sql.service import run_sql_group
        from consumers.sql.settings import parse_settings

        argv = ["--url", self.settings.url, "--campaign", self.settings.campaign_id,
                "--group", self.group, "--tp", self.settings.table_prefix,
                "--bootstrap-servers", self.settings.kafka_bootstrap]  # fmt: skip
        sql_settings = parse_settings(argv, {})

        def started(materializer: Any) -> None:
            self._materializer = materializer
            self._ready.set()

        run_sql_group(sql_settings, stop, on_started=started)

    def _run_webhook(self, stop: threading.Event) -> None:
        from consumers.webhook.config import parse_config
        from consumers.webhook.service import build_relay

        argv = ["--url", self.settings.url, "--campaign", self.settings.campaign_id,
                "--group", self.group, "--bootstrap-servers", self.settings.kafka_bootstrap,
                "--w", str(self.settings.workers), "--wr", str(self.settings.webhook_rate),
                "--wb", str(self.settings.webhook_burst)]  # fmt: skip
        # The environment still supplies the optional signing secret and extra headers.
        relay = build_relay(parse_config(argv, os.environ))
        self._ready.set()
        relay.run(stop)

    def webhook_group_id(self) -> str:
        """Return the relay's Kafka consumer group id."""
        from consumers.webhook.service import kafka_group_id

        return kafka_group_id(self.settings.campaign_id, self.group)

    def consumed_positions(self, reader: OffsetReader) -> dict[int, int]:
        """Return the next offset per partition that the group has durably handled."""
        if self.settings.is_database_mode:
            materializer = self._materializer
            return {} if materializer is None else dict(materializer.positions())
        return reader.committed(self.webhook_group_id(), self.events_topic)

    def prepare_consumer(self, reader: OffsetReader) -> None:
        """Webhook: a group that never ran starts at --s, else at the topic's end (future only).

        The original's webhook mode without --s or checkpoint sent only future transactions; a
        new relay group would otherwise POST the topic's whole history.
        """
        if self.settings.is_database_mode:
            return
        group = self.webhook_group_id()
        if reader.committed(group, self.events_topic):
            return  # the group's committed offsets are its checkpoint
        if self.settings.start:
            when = _start_datetime(self.settings.start).astimezone(UTC)
            offsets = reader.offsets_for_time(self.events_topic, int(when.timestamp() * 1000))
        else:
            offsets = reader.end_offsets(self.events_topic)
        reader.commit_offsets(group, self.events_topic, offsets)
        log.info("new webhook group %s starts at offsets %s", group, offsets)

    # --- summary --------------------------------------------------------------------------------

    def count_rows(self) -> dict[str, int]:
        """Return rows per table of the target database (SQL modes), keyed by table name."""
        if not self.settings.is_database_mode:
            return {}
        import sqlalchemy as sa

        from consumers.sql.urls import parse_database_url

        engine = sa.create_engine(parse_database_url(self.settings.url))
        counts: dict[str, int] = {}
        try:
            with engine.connect() as connection:
                for name in TABLES:
                    table = sa.table(self.settings.table_prefix + name)
                    query = sa.select(sa.func.count()).select_from(table)
                    counts[table.name] = int(connection.execute(query).scalar_one())
        finally:
            engine.dispose()
        return counts


def build_parts(settings: LegacySettings) -> LegacyParts:
    """Return the producer and consumer group for `settings`."""
    return LegacyParts(settings)
