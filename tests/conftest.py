"""Shared fixtures: real Kafka, PostgreSQL and MariaDB; integration tests never skip in CI."""

from __future__ import annotations

import importlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn, Protocol

import pytest
import sqlalchemy as sa
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # the typed home of NewTopic (admin re-exports it)

from tests.support.waiting import wait_for

# How long a fixture may wait for a topic to be created or for a broker to start on this 2-core
# machine; a cold JVM start measured 3-15 s, so 120 s only trips on a real failure.
TOPIC_READY_SECONDS = 30.0
BROKER_START_SECONDS = 120.0


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def unavailable(reason: str) -> NoReturn:
    """Fail in CI (a missing service is a broken CI set-up), skip on a developer's machine."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (all bound at once, so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


# --- Kafka ----------------------------------------------------------------------------------------


def _docker_answers() -> bool:
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return False
    try:
        docker = importlib.import_module("docker")  # untyped; only needed when a socket exists
        docker.from_env(timeout=5).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real broker: $KAFKA_BOOTSTRAP_SERVERS, else testcontainers, else our own launcher."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield str(container.get_bootstrap_server())
        return
    from ops.kafka import launcher

    port, controller_port = free_ports(2)
    config = launcher.BrokerConfig(
        data_dir=tmp_path_factory.mktemp("kafka"), port=port, controller_port=controller_port
    )
    try:
        launcher.ensure_started(config, timeout=BROKER_START_SECONDS)
    except (launcher.LauncherError, OSError) as exc:
        unavailable(f"no Kafka: KAFKA_BOOTSTRAP_SERVERS unset, no Docker, launcher failed: {exc}")
    try:
        yield config.bootstrap
    finally:
        launcher.stop_broker(config.pid_path)


class TopicFactory(Protocol):
    """Type of the `topic_factory` fixture (annotating it as `Callable[..., str]` works too)."""

    def __call__(self, partitions: int = 3, prefix: str = "t") -> str: ...


def _topic_ready(admin: AdminClient, name: str, partitions: int) -> bool:
    topic = admin.list_topics(topic=name, timeout=5).topics.get(name)
    if topic is None or topic.error is not None or len(topic.partitions) != partitions:
        return False
    return all(p.leader >= 0 and p.error is None for p in topic.partitions.values())


@pytest.fixture
def topic_factory(kafka_bootstrap: str) -> Iterator[TopicFactory]:
    """`make(partitions=3, prefix="t")` creates a unique topic; all are deleted afterwards."""
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    created: list[str] = []

    def make(partitions: int = 3, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        futures = admin.create_topics([NewTopic(name, num_partitions=partitions)])
        futures[name].result(timeout=TOPIC_READY_SECONDS)
        created.append(name)
        wait_for(
            lambda: _topic_ready(admin, name, partitions),
            timeout=TOPIC_READY_SECONDS,
            message=f"topic {name} never showed {partitions} partitions with leaders",
        )
        return name

    yield make
    if created:
        for future in admin.delete_topics(created, operation_timeout=30).values():
            try:
                future.result(timeout=TOPIC_READY_SECONDS)
            except Exception as exc:  # cleanup only: a failed delete must not hide the real result
                print(f"warning: could not delete a test topic: {exc}")


@pytest.fixture
def unique_id() -> str:
    """A fresh short hex id, for consumer group ids, table names and the like."""
    return uuid.uuid4().hex[:12]


# --- databases ------------------------------------------------------------------------------------


def _url_from_env(variable: str) -> str:
    url = os.environ.get(variable)
    if not url:
        unavailable(f"${variable} is not set")
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return _url_from_env("DBSYNC_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def mariadb_url() -> str:
    return _url_from_env("DBSYNC_TEST_MARIADB_URL")


def _run_admin_sql(url: str, statement: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """URL whose connections default to a fresh PostgreSQL schema (dropped CASCADE afterwards)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _run_admin_sql(postgres_url, f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        _run_admin_sql(postgres_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def mariadb_db_url(mariadb_url: str) -> Iterator[str]:
    """URL of a fresh utf8mb4 MariaDB database (dropped afterwards)."""
    database = f"t_{uuid.uuid4().hex[:12]}"
    _run_admin_sql(
        mariadb_url,
        f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    )
    try:
        yield sa.make_url(mariadb_url).set(database=database).render_as_string(hide_password=False)
    finally:
        _run_admin_sql(mariadb_url, f"DROP DATABASE IF EXISTS `{database}`")


@pytest.fixture
def pg_engine(pg_schema_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(pg_schema_url)
    yield engine
    engine.dispose()


@pytest.fixture
def mariadb_engine(mariadb_db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(mariadb_db_url)
    yield engine
    engine.dispose()


# --- SQL Server: live only where one exists ------------------------------------------------------

_deselected_mssql: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect `mssql_live` tests unless MSSQL_URL is set; the summary reports it plainly."""
    if os.environ.get("MSSQL_URL"):
        return
    keep = [i for i in items if i.get_closest_marker("mssql_live") is None]
    dropped = [i for i in items if i.get_closest_marker("mssql_live") is not None]
    if dropped:
        _deselected_mssql.extend(i.nodeid for i in dropped)
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


# --- no skipped tests in CI -----------------------------------------------------------------------

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if in_ci() and _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _deselected_mssql:
        terminalreporter.write_line(
            f"SQL Server NOT exercised live: MSSQL_URL is unset, so {len(_deselected_mssql)} "
            "live test(s) were deselected (statement text is still checked)."
        )
    if in_ci() and _skipped:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped)} test(s) skipped while CI is set; CI runs every test:",
            red=True,
        )
        for nodeid in _skipped:
            terminalreporter.write_line(f"  skipped: {nodeid}", red=True)
