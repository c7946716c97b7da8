"""`dbsync2 resync sql`: rebuild a SQL group's tables in shadow tables, then swap them in.

1. Build: a new group `<group>-resync-<stamp>` materialises the topic (from the earliest offset,
   or from `--from <timestamp>`) into shadow tables `{tp}rs<stamp>_*`, while the live group keeps
   serving the live tables.
2. Swap: when the shadow group has caught up it stops, and the shadow tables take the live names
   atomically (see `ops/resync_swap.py`); the live tables are kept as `{tp}old<stamp>_*` until you
   drop them.
3. Continue: the new group keeps applying events to the (new) live tables until it has passed
   both the end of the topic at the swap and the live group's own stored offsets, so nothing the
   live group applied to the old tables in the meantime is missing. Both groups write with the
   version guard, so their overlap changes nothing. Then it stops; the live group continues.

Exit codes: 0 swapped, 1 bad arguments or a database / Kafka error before the swap, 2 the build
or the swap failed (the live tables are untouched unless the message says otherwise).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from confluent_kafka import TopicPartition

from consumers.sql.materializer import SqlMaterializer
from consumers.sql.service import run_sql_group
from consumers.sql.settings import SettingsError, SqlSettings, parse_settings
from ops.observability.kafka_groups import (
    KafkaToolError,
    make_admin,
    make_probe,
    topic_partitions,
    watermarks,
)
from ops.replay import parse_target
from ops.resync_swap import (
    SwapUnsupported,
    plan_swaps,
    rename_mappings,
    swap_tables,
    table_pairs,
)
from ops.sql_offsets import SqlOffsetStore
from schemas.topics import events_topic

log = logging.getLogger(__name__)
PROG = "dbsync2 resync sql"
# After the swap the live group may still commit one batch it started before it; give it this
# long before comparing offsets (a batch commits in well under a second on a healthy database).
SETTLE_SECONDS = 5.0
CHECK_SECONDS = 0.5


class ResyncFailed(Exception):
    """The shadow build or the swap did not complete."""


@dataclasses.dataclass(frozen=True)
class ResyncNames:
    """The names one resync run uses."""

    stamp: str
    shadow_group: str
    shadow_prefix: str
    old_prefix: str


def names_for(settings: SqlSettings, now: datetime) -> ResyncNames:
    """Return the shadow group id and the shadow / old table prefixes for a run at `now`."""
    stamp = now.strftime("%Y%m%d%H%M%S")
    tp = settings.table_prefix
    return ResyncNames(
        stamp, f"{settings.group}-resync-{stamp}", f"{tp}rs{stamp}_", f"{tp}old{stamp}_"
    )


class GroupRun:
    """One SQL group running in a background thread until `stop()`."""

    def __init__(self, settings: SqlSettings) -> None:
        self.settings = settings
        self._stop = threading.Event()
        self.materializer: SqlMaterializer | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"resync-{settings.group}")

    def _run(self) -> None:
        def started(materializer: SqlMaterializer) -> None:
            self.materializer = materializer

        try:
            run_sql_group(self.settings, self._stop, on_started=started)
        except BaseException as exc:
            self.error = exc

    def start(self) -> GroupRun:
        """Start the thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Finish the current batch and stop."""
        self._stop.set()
        self._thread.join()
        if self.error is not None:
            raise ResyncFailed(f"group {self.settings.group} failed: {self.error}") from self.error

    def wait_until(self, done: Callable[[dict[int, int]], bool], timeout: float) -> None:
        """Wait until `done(positions)` holds; raise ResyncFailed on error or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if self.error is not None:
                raise ResyncFailed(f"group {self.settings.group} failed: {self.error}")
            if self.materializer is not None and done(self.materializer.positions()):
                return
            if time.monotonic() > deadline:
                raise ResyncFailed(f"group {self.settings.group} did not catch up in {timeout} s")
            self._stop.wait(CHECK_SECONDS)


def end_offsets(probe: Any, admin: Any, topic: str) -> dict[int, int]:
    """Return the current end offset of every partition."""
    partitions = topic_partitions(admin, topic)
    return {p: high for p, (_low, high) in watermarks(probe, topic, partitions).items()}


def reached(positions: Mapping[int, int], targets: Mapping[int, int]) -> bool:
    """Return True when every partition's position is at or past its target."""
    return all(target <= 0 or positions.get(p, 0) >= target for p, target in targets.items())


def resync(settings: SqlSettings, start: str | None, timeout: float, now: datetime) -> ResyncNames:
    """Run the three phases (see the module docstring); return the names used."""
    names = names_for(settings, now)
    topic = events_topic(settings.campaign)
    admin, probe = make_admin(settings.bootstrap_servers), make_probe(settings.bootstrap_servers)
    engine = sa.create_engine(settings.url)
    try:
        shadow = dataclasses.replace(
            settings, group=names.shadow_group, table_prefix=names.shadow_prefix
        )
        if start is not None:
            when = parse_target(start).when
            assert when is not None
            found = probe.offsets_for_times(
                [
                    TopicPartition(topic, p, int(when.timestamp() * 1000))
                    for p in topic_partitions(admin, topic)
                ],
                timeout=30,
            )
            ends = end_offsets(probe, admin, topic)
            offsets = {
                tp.partition: tp.offset if tp.offset >= 0 else ends[tp.partition] for tp in found
            }
            SqlOffsetStore(engine, names.shadow_prefix, names.shadow_group, topic).rewrite(offsets)
        log.info("building shadow tables %s* as group %s", names.shadow_prefix, names.shadow_group)
        build = GroupRun(shadow).start()
        try:
            build.wait_until(lambda pos: reached(pos, end_offsets(probe, admin, topic)), timeout)
        finally:
            build.stop()
        built = SqlOffsetStore(engine, names.shadow_prefix, names.shadow_group, topic).read()
        rename_mappings(engine, names.shadow_prefix, settings.table_prefix)
        SqlOffsetStore(engine, settings.table_prefix, names.shadow_group, topic).rewrite(built)
        swaps = plan_swaps(
            engine, table_pairs(settings.table_prefix, names.shadow_prefix), names.old_prefix
        )
        swap_tables(engine, swaps)
        swapped_at = time.monotonic()
        at_swap = end_offsets(probe, admin, topic)
        log.info("swapped %d tables; old tables kept as %s*", len(swaps), names.old_prefix)
        live_offsets = SqlOffsetStore(engine, settings.table_prefix, settings.group, topic)
        follow = GroupRun(dataclasses.replace(shadow, table_prefix=settings.table_prefix)).start()
        try:
            follow.wait_until(
                lambda pos: (
                    time.monotonic() - swapped_at >= SETTLE_SECONDS
                    and reached(pos, at_swap)
                    and reached(pos, live_offsets.read())
                ),
                timeout,
            )
        finally:
            follow.stop()
        return names
    finally:
        probe.close()
        engine.dispose()


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `dbsync2 resync sql`."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="database URL, as for `dbsync2 consume sql`")
    p.add_argument("--campaign", required=True)
    p.add_argument("--group", default="sql", help="the live SQL group (default sql)")
    p.add_argument("--tp", default="", help="the live tables' prefix")
    p.add_argument("--from", dest="start", help="build from this timestamp (naive = UTC)")
    p.add_argument("--timeout", type=float, default=24 * 3600.0, help="seconds per phase")
    p.add_argument("--bootstrap-servers", help="default $KAFKA_BOOTSTRAP_SERVERS")
    return p


def main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """Run `dbsync2 resync sql` and return its exit code."""
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(list(argv))
    words = ["--url", args.url, "--campaign", args.campaign, "--group", args.group, "--tp", args.tp]
    bootstrap = args.bootstrap_servers or env.get("KAFKA_BOOTSTRAP_SERVERS", "")
    try:
        if not bootstrap:
            raise SettingsError("set --bootstrap-servers or $KAFKA_BOOTSTRAP_SERVERS")
        settings = parse_settings([*words, "--bootstrap-servers", bootstrap], {})
        if args.start is not None:
            parse_target(args.start)
    except (SettingsError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    try:
        names = resync(settings, args.start, args.timeout, datetime.now(UTC))
    except (KafkaToolError, sa.exc.SQLAlchemyError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except (ResyncFailed, SwapUnsupported) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    print(
        f"resync done: new tables are live; the previous tables are kept as "
        f"{names.old_prefix}* (drop them when you no longer need them); "
        f"group {names.shadow_group} is no longer needed"
    )
    return 0
