"""Benchmark the SQL materializer against a per-row upsert and PostgreSQL COPY; print JSON.

Not a test. It pre-fills a fresh campaign topic with N contact snapshots of realistic width
(21 dbsync2 contact columns + 19 custom fields + the version column = 41 columns), runs
`dbsync2 consume sql` as a subprocess into a fresh PostgreSQL schema and a fresh MariaDB database,
and times it from start until the offsets table shows the whole topic applied. In the same run
it measures two references on the same rows: dbsync2's way (one autocommitted single-row upsert
per row, timed on a sample) and PostgreSQL COPY into an empty copy of the contacts table.
With `--instances N` it also runs N consumers of one group into another fresh database (the way
a group scales out over cores and hosts). With `--repeat K` every materializer setting runs K
times, each into a fresh database, and the median run is reported (all rates are kept). Events
are generated as a stream (`sql_events`), so the harness's own memory stays flat at any
`--events`.

    python -m ops.bench.sql_bench --events 100000      # default; 1000000 for the documented scale
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ops.bench.latency_proxy import LatencyProxy
from ops.bench.sql_baselines import copy_baseline, per_row_baseline, prepared_per_row_baseline
from ops.bench.sql_events import CUSTOM_NUMBERS, CUSTOM_TEXT, iter_snapshots, prefill_topic

REPO = Path(__file__).resolve().parents[2]


def stored_total(engine: sa.Engine, group: str) -> int:
    """Return the sum of the group's stored next offsets (0 before the first batch)."""
    try:
        with engine.connect() as conn:
            value = conn.execute(
                sa.text("SELECT SUM(next_offset) FROM dbsync_offsets WHERE group_id = :g"),
                {"g": group},
            ).scalar()
    except sa.exc.DBAPIError:
        return 0
    return int(value or 0)


def peak_rss_mib(pid: int) -> float:
    """Return a process's peak resident set size (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """Return a process's user + system CPU time so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_materializer(
    url: str, campaign: str, bootstrap: str, total: int, batch: int, instances: int = 1
) -> dict[str, Any]:
    """Run `instances` x `dbsync2 consume sql` (one group) until the whole topic is applied."""
    group = f"bench-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    env.update(
        DBSYNC_URL=url,
        DBSYNC_CAMPAIGN=campaign,
        DBSYNC_GROUP=group,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        DBSYNC_BATCH_SIZE=str(batch),
        DBSYNC_LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
    )
    engine = sa.create_engine(url)
    started = time.monotonic()
    command = [sys.executable, "-m", "dbsync2.cli", "consume", "sql"]
    processes = [subprocess.Popen(command, env=env) for _ in range(instances)]
    first_at: float | None = None
    first_done = 0
    first_cpu = 0.0
    try:
        while True:
            done = stored_total(engine, group)
            now = time.monotonic()
            if done and first_at is None:
                first_at, first_done = now, done
                first_cpu = sum(cpu_seconds(process.pid) for process in processes)
            if done >= total:
                break
            for process in processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a consumer exited with {process.returncode}")
            time.sleep(0.05)  # polling interval of the harness, not a synchronisation sleep
        finished = time.monotonic()
        rss = max(peak_rss_mib(process.pid) for process in processes)
        cpu = sum(cpu_seconds(process.pid) for process in processes)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(60)
        engine.dispose()
    seconds = finished - started
    steady = (total - first_done) / max(finished - (first_at or started), 1e-9)
    return {
        "seconds_total": round(seconds, 2),
        "events_per_s": round(total / seconds),
        "rows_per_s": round(total / seconds),
        "steady_events_per_s": round(steady),
        # The consumer's own CPU per event (after the first batch): robust to a loaded machine.
        "consumer_cpu_us_per_event": round((cpu - first_cpu) * 1e6 / max(total - first_done, 1), 1),
        "consumer_cpu_seconds_total": round(cpu, 2),
        "peak_rss_mib_per_instance": round(rss, 1),
        "batch_size": batch,
        "instances": instances,
    }


@contextmanager
def fresh_target(kind: str, admin_url: str, latency_ms: float) -> Iterator[str]:
    """Create a fresh PG schema or MariaDB database (behind a latency proxy if asked), yield
    its URL, drop it afterwards."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    create, drop = (
        (f'CREATE SCHEMA "{name}"', f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        if kind == "postgresql"
        else (
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
            f"DROP DATABASE IF EXISTS `{name}`",
        )
    )
    with engine.connect() as conn:
        conn.execute(sa.text(create))
    url = sa.make_url(admin_url)
    if kind == "postgresql":
        url = url.update_query_dict({"options": f"-csearch_path={name}"})
    else:
        url = url.set(database=name)
    proxy: LatencyProxy | None = None
    if latency_ms > 0:
        default_port = 5432 if kind == "postgresql" else 3306
        proxy = LatencyProxy(url.host or "127.0.0.1", url.port or default_port, latency_ms / 2000)
        url = url.set(host="127.0.0.1", port=proxy.port)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        if proxy is not None:
            proxy.close()
        with engine.connect() as conn:
            conn.execute(sa.text(drop))
        engine.dispose()


def quiesce(kind: str, admin_url: str) -> None:
    """Start a timed run from a quiet disk: write out dirty pages (and, on PostgreSQL, when the
    role may, checkpoint), so a run does not pay for the writes of the one before it."""
    if kind == "postgresql":
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("CHECKPOINT"))
        except sa.exc.DBAPIError as exc:  # needs pg_checkpoint (PostgreSQL 15+) or superuser
            print(f"sql_bench: no CHECKPOINT before runs: {exc.orig}", file=sys.stderr)
        finally:
            engine.dispose()
    os.sync()


def repeated_runs(
    kind: str, admin_url: str, campaign: str, total: int, args: Any, instances: int = 1
) -> dict[str, Any]:
    """Run the materializer `--repeat` times, each into a fresh database; return the median run
    (by events/s) with every run's rate."""
    runs = []
    for _ in range(args.repeat):
        with fresh_target(kind, admin_url, args.latency_ms) as url:
            quiesce(kind, admin_url)
            runs.append(
                run_materializer(url, campaign, args.bootstrap, total, args.batch_size, instances)
            )
    median = sorted(runs, key=lambda run: float(run["events_per_s"]))[len(runs) // 2]
    return {**median, "runs_events_per_s": [run["events_per_s"] for run in runs]}


def bench_database(
    kind: str, admin_url: str, campaign: str, total: int, args: Any
) -> dict[str, Any]:
    """Run the materializer (1 and N instances, each into a fresh database) and the references."""
    result: dict[str, Any] = {"materializer": repeated_runs(kind, admin_url, campaign, total, args)}
    with fresh_target(kind, admin_url, args.latency_ms) as url:
        sample = list(itertools.islice(iter_snapshots(campaign, total), args.per_row_sample))
        result["per_row_upsert"] = per_row_baseline(url, sample, args.per_row_sample)
        if kind == "postgresql":
            result["prepared_per_row_upsert"] = prepared_per_row_baseline(
                url, sample, args.per_row_sample
            )
            quiesce(kind, admin_url)
            result["copy"] = copy_baseline(url, iter_snapshots(campaign, total))
    if args.instances > 1:
        result[f"materializer_x{args.instances}"] = repeated_runs(
            kind, admin_url, campaign, total, args, args.instances
        )
    for name in ("materializer", f"materializer_x{args.instances}"):
        if name not in result:
            continue
        rate = result[name]["rows_per_s"]
        suffix = "" if name == "materializer" else name.removeprefix("materializer")
        result[f"x_per_row{suffix}"] = round(rate / result["per_row_upsert"]["rows_per_s"], 1)
        if "prepared_per_row_upsert" in result:
            prepared = result["prepared_per_row_upsert"]["rows_per_s"]
            result[f"x_prepared_per_row{suffix}"] = round(rate / prepared, 1)
        if "copy" in result:
            result[f"fraction_of_copy{suffix}"] = round(rate / result["copy"]["rows_per_s"], 2)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--per-row-sample", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--instances", type=int, default=1, help="also run N instances")
    parser.add_argument(
        "--repeat", type=int, default=1, help="materializer runs per setting; the median is kept"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="added database round-trip time"
    )
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", ""))
    parser.add_argument("--postgres-url", default=os.environ.get("DBSYNC_TEST_POSTGRES_URL", ""))
    parser.add_argument("--mariadb-url", default=os.environ.get("DBSYNC_TEST_MARIADB_URL", ""))
    args = parser.parse_args(argv)
    campaign = f"BENCH{uuid.uuid4().hex[:8]}"
    generated = time.monotonic()
    total = prefill_topic(args.bootstrap, campaign, iter_snapshots(campaign, args.events))
    os.sync()  # the topic's ~1 GB of dirty pages are written now, not during the timed runs
    report: dict[str, Any] = {
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30),
            "python": sys.version.split()[0],
        },
        "events": total,
        "contact_columns": 21 + len(CUSTOM_TEXT) + len(CUSTOM_NUMBERS) + 1,
        "prefill_seconds": round(time.monotonic() - generated, 1),
        "database_round_trip_added_ms": args.latency_ms,
    }
    for kind, admin_url in (("postgresql", args.postgres_url), ("mariadb", args.mariadb_url)):
        if admin_url:
            report[kind] = bench_database(kind, admin_url, campaign, total, args)
    report["bench_process_peak_rss_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
