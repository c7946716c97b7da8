"""Bring up the whole pipeline on loopback and tear it down again."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa

from ops.chaos.processes import Component, dbsync2_argv
from ops.chaos.receiver import ChaosReceiver
from ops.chaos.tcp_proxy import CuttableProxy
from ops.kafka import launcher
from schemas.topics import dead_letter_topic, events_topic

TOKEN = "chaos-token"  # noqa: S105 (the simulator's test token)
DEFAULT_PG = "postgresql+psycopg2://dbsync:dbsync@127.0.0.1:5432/dbsync_test"
DEFAULT_MARIADB = "mysql+pymysql://dbsync:dbsync@127.0.0.1:3306/dbsync_test?charset=utf8mb4"
SQL_GROUPS = {"postgres": "sqlpg", "mariadb": "sqlmaria"}
WEBHOOK_GROUP = "webhook"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: object, timeout: float, what: str, step: float = 0.25) -> None:
    """Call `check()` until it is truthy; raise TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:  # noqa: S110 (a probe that fails is simply "not yet")
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:g} s")
        time.sleep(step)


@dataclass
class Database:
    """One throw-away schema (PostgreSQL) or database (MariaDB) reached through a proxy."""

    kind: str
    admin_url: str
    name: str
    proxy: CuttableProxy | None = None

    @property
    def direct_url(self) -> sa.URL:
        """URL straight to the server (for checks: never cut)."""
        url = sa.make_url(self.admin_url)
        if self.kind == "postgres":
            return url.update_query_dict({"options": f"-csearch_path={self.name}"})
        return url.set(database=self.name)

    @property
    def consumer_url(self) -> str:
        """URL through the proxy, for the consumer."""
        url = self.direct_url
        if self.proxy is not None:
            url = url.set(host="127.0.0.1", port=self.proxy.port)
        return url.render_as_string(hide_password=False)

    def create(self, with_proxy: bool) -> None:
        """Create the schema/database (and the proxy in front of the server)."""
        if self.kind == "postgres":
            _admin(self.admin_url, f'CREATE SCHEMA "{self.name}"')
        else:
            _admin(self.admin_url, f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 "
                   "COLLATE utf8mb4_unicode_ci")  # fmt: skip
        if with_proxy:
            url = sa.make_url(self.admin_url)
            default = 5432 if self.kind == "postgres" else 3306
            self.proxy = CuttableProxy((url.host or "127.0.0.1", url.port or default))

    def drop(self) -> None:
        """Drop what `create` made."""
        if self.proxy is not None:
            self.proxy.close()
        if self.kind == "postgres":
            _admin(self.admin_url, f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
        else:
            _admin(self.admin_url, f"DROP DATABASE IF EXISTS `{self.name}`")

    def engine(self) -> sa.Engine:
        """A direct engine for checks."""
        return sa.create_engine(self.direct_url, pool_pre_ping=True)


def _admin(url: str, statement: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


@dataclass
class StackOptions:
    """What to run."""

    contacts: int = 300
    seed: int = 7
    hostile: bool = False
    interval: str = "3s"
    bootstrap: str | None = None  # None: start a private broker
    databases: tuple[str, ...] = ("postgres", "mariadb")
    webhook: bool = True
    proxies: bool = True
    relay_timeout_s: float = 2.0
    postgres_url: str = field(
        default_factory=lambda: os.environ.get("DBSYNC_TEST_POSTGRES_URL", DEFAULT_PG)
    )
    mariadb_url: str = field(
        default_factory=lambda: os.environ.get("DBSYNC_TEST_MARIADB_URL", DEFAULT_MARIADB)
    )
    sim_args: tuple[str, ...] = ()
    defer_consumers: bool = False  # start them later with `start_consumers()` (backlog benches)


class Stack:
    """The running system; `start()` then use the parts; `close()` always."""

    def __init__(self, options: StackOptions, work_dir: Path | None = None) -> None:
        self.options = options
        self.run_id = uuid.uuid4().hex[:10]
        self.campaign = f"CHAOS{self.run_id.upper()}"
        self.work = work_dir or Path(tempfile.mkdtemp(prefix="dbsync2-chaos-"))
        self._own_work = work_dir is None
        self.broker: launcher.BrokerConfig | None = None
        self.bootstrap = options.bootstrap or ""
        self.sim_port = free_port()
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        self.receiver = ChaosReceiver() if options.webhook else None
        self.databases: dict[str, Database] = {}
        self.components: dict[str, Component] = {}
        self.topic = events_topic(self.campaign)
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {TOKEN}"

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> Stack:
        """Start everything and wait until the producer has created the topic."""
        logs = self.work / "logs"
        if not self.bootstrap:
            self.broker = launcher.BrokerConfig(
                data_dir=self.work / "kafka", port=free_port(), controller_port=free_port()
            )
            launcher.ensure_started(self.broker, timeout=120)
            self.bootstrap = self.broker.bootstrap
        sim = Component("simulator", dbsync2_argv(
            "simulate", "--port", str(self.sim_port), "--campaign-id", self.campaign,
            "--token", TOKEN, "--contacts", str(self.options.contacts),
            "--seed", str(self.options.seed), *(["--hostile"] if self.options.hostile else []),
            *self.options.sim_args), logs)  # fmt: skip
        self.components["simulator"] = sim
        sim.start()
        wait_until(lambda: self.http.get(f"{self.sim_url}/_sim/stats", timeout=2).ok, 120,
                   "simulator up")  # fmt: skip
        for kind in self.options.databases:
            admin = self.options.postgres_url if kind == "postgres" else self.options.mariadb_url
            database = Database(kind, admin, f"chaos_{self.run_id}")
            database.create(self.options.proxies)
            self.databases[kind] = database
        token_file = self.work / "token"
        token_file.write_text(TOKEN)
        self.components["producer"] = Component("producer", dbsync2_argv(
            "producer", "--c", self.campaign, "--token-file", str(token_file),
            "--interval", self.options.interval, "--state-dir", str(self.work / "state"),
            "--log-dir", str(logs), "--bootstrap-servers", self.bootstrap,
            "--partitions", "3"), logs, {"DIALFIRE_API_URL": self.sim_url})  # fmt: skip
        self.components["producer"].start()
        wait_until(self._topic_exists, 120, f"topic {self.topic}")
        for kind, database in self.databases.items():
            self.components[f"sql_{kind}"] = Component(f"sql_{kind}", dbsync2_argv(
                "consume", "sql", "--url", database.consumer_url, "--campaign", self.campaign,
                "--group", SQL_GROUPS[kind], "--bootstrap-servers", self.bootstrap,
                "--batch-wait-ms", "200", "--session-timeout-ms", "10000"), logs)  # fmt: skip
        if self.receiver is not None:
            self.receiver.start()
            timeout = self.options.relay_timeout_s
            self.components["webhook"] = Component("webhook", dbsync2_argv(
                "consume", "webhook", "--url", self.receiver.url, "--campaign", self.campaign,
                "--group", WEBHOOK_GROUP, "--bootstrap-servers", self.bootstrap, "--w", "16",
                "--wr", "500", "--timeout-s", str(timeout), "--retry-base-ms", "500",
                "--retry-max-ms", "8000", "--probe-max-ms", "4000",
                "--session-timeout-ms", "10000"), logs)  # fmt: skip
        if not self.options.defer_consumers:
            self.start_consumers()
        return self

    def start_consumers(self) -> None:
        """Start the SQL consumers and the webhook relay (if not running)."""
        for name, component in self.components.items():
            if name not in ("simulator", "producer"):
                component.start()

    def close(self, keep: bool = False) -> None:
        """Stop every component, the receiver and the private broker; drop the databases."""
        for component in reversed(list(self.components.values())):
            with contextlib.suppress(Exception):
                component.stop(grace=10)
        if self.receiver is not None:
            self.receiver.stop()
        for database in self.databases.values():
            with contextlib.suppress(Exception):
                database.drop()
        if self.broker is not None:
            launcher.stop_broker(self.broker.pid_path, grace=15)
        if self._own_work and not keep:
            shutil.rmtree(self.work, ignore_errors=True)

    # --- controls -------------------------------------------------------------------------------
    def restart_broker(self, hard: bool) -> None:
        """Stop (SIGKILL if `hard`, else SIGTERM) our private broker and start it again."""
        if self.broker is None:
            raise RuntimeError("only a broker this harness started may be restarted")
        pid = launcher.running_pid(self.broker.pid_path)
        if hard and pid is not None:
            os.kill(pid, 9)
            wait_until(lambda: not launcher.process_exists(pid), 30, "broker gone")
        launcher.stop_broker(self.broker.pid_path, grace=30)
        launcher.ensure_started(self.broker, timeout=120)

    def broker_pid(self) -> int | None:
        """PID of our private broker."""
        return launcher.running_pid(self.broker.pid_path) if self.broker else None

    def sim_post(self, path: str, body: object | None = None) -> object:
        """POST to a simulator control endpoint and return its JSON answer."""
        answer = self.http.post(f"{self.sim_url}{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def producer_checkpoint_us(self) -> int:
        """The producer's saved checkpoint (µs since the epoch), 0 if none yet."""
        path = self.work / "state" / f"producer-{self.campaign}.sqlite3"
        if not path.exists():
            return 0
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            row = db.execute("SELECT value FROM meta WHERE name = 'checkpoint_us'").fetchone()
        return int(row[0]) if row else 0

    def dead_letter_topic(self, group: str) -> str:
        """The DLQ topic of one of our groups."""
        return dead_letter_topic(self.campaign, group)

    def _topic_exists(self) -> bool:
        from ops.chaos.kafka_probe import end_offsets

        return bool(end_offsets(self.bootstrap, self.topic))
