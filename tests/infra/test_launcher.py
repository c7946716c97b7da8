"""The `ops.kafka` launcher: settings, safety checks, and a real second broker on free ports."""

from __future__ import annotations

import os
import re
import string
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # the typed home of NewTopic (admin re-exports it)

from ops.kafka import launcher
from ops.kafka.__main__ import main
from tests.conftest import BROKER_START_SECONDS, free_ports
from tests.support.waiting import wait_for


def _cli(config: launcher.BrokerConfig, command: str) -> list[str]:
    return [
        command,
        "--data-dir",
        str(config.data_dir),
        "--port",
        str(config.port),
        "--controller-port",
        str(config.controller_port),
    ]


def _round_trip_one_message(bootstrap: str, unique_id: str) -> None:
    topic = f"launcher-{unique_id}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1)])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, key=b"k", value="hällo 😀".encode())
    assert producer.flush(30) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{unique_id}",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([topic])
        msg = wait_for(lambda: consumer.poll(0.5), timeout=60, message="no message consumed")
        assert msg is not None and msg.error() is None, msg
        assert (msg.key(), msg.value()) == (b"k", "hällo 😀".encode())
    finally:
        consumer.close()


def test_server_properties_are_single_node_and_loopback_only(tmp_path: Path) -> None:
    config = launcher.BrokerConfig(data_dir=tmp_path, port=19092, controller_port=19093)
    props = launcher.server_properties(config)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["auto.create.topics.enable"] == "false"
    for key in ("offsets.topic", "transaction.state.log", "share.coordinator.state.topic"):
        assert props[f"{key}.replication.factor"] == "1"
    assert "controller.quorum.voters" not in props  # never mixed with --standalone
    written = launcher.write_server_properties(config).read_text().splitlines()
    assert "log.dirs=" + str(tmp_path / "kraft-logs") in written


def test_cluster_id_is_22_url_safe_chars() -> None:
    for _ in range(200):
        cluster_id = launcher.new_cluster_id()
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert set(cluster_id) <= set(string.ascii_letters + string.digits + "-_")


def test_kafka_version_comes_from_the_pom() -> None:
    assert launcher.kafka_version().startswith("4.")


def test_stop_never_signals_a_pid_that_is_not_a_kafka_broker(tmp_path: Path) -> None:
    pid_file = tmp_path / "kafka.pid"
    pid_file.write_text(f"{os.getpid()}\n")  # a recycled pid: this very test process
    assert launcher.running_pid(pid_file) is None
    assert launcher.stop_broker(pid_file) is None
    assert not pid_file.exists()


def test_data_dir_remembers_its_controller_port(tmp_path: Path) -> None:
    first = launcher.BrokerConfig(data_dir=tmp_path, port=1, controller_port=2)
    launcher.write_server_properties(first)
    first.log_dirs.mkdir()
    (first.log_dirs / "meta.properties").write_text("cluster.id=x\n")
    assert launcher.format_storage(first, tmp_path) is False  # already formatted: no java run
    assert launcher.recorded_bootstrap(first) == "127.0.0.1:1"
    launcher.write_server_properties(first)  # same ports: fine
    moved = launcher.BrokerConfig(data_dir=tmp_path, port=1, controller_port=3)
    with pytest.raises(launcher.LauncherError, match=re.escape("controller 127.0.0.1:2;")):
        launcher.write_server_properties(moved)


@pytest.mark.integration
def test_launcher_start_status_traffic_stop(
    tmp_path: Path, unique_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    port, controller_port = free_ports(2)
    config = launcher.BrokerConfig(
        data_dir=tmp_path / "kafka", port=port, controller_port=controller_port
    )
    first = launcher.ensure_started(config, timeout=BROKER_START_SECONDS)
    try:
        assert not first.already_running
        assert first.bootstrap == f"127.0.0.1:{config.port}"
        assert launcher.read_pid(config.pid_path) == first.pid
        assert launcher.broker_alive(first.pid)
        assert launcher.rss_kib(first.pid) > 0

        again = launcher.ensure_started(config, timeout=BROKER_START_SECONDS)
        assert again.already_running and again.pid == first.pid
        assert main(_cli(config, "start")) == 0
        assert "already running" in capsys.readouterr().out
        assert main(_cli(config, "status")) == 0
        assert f"pid {first.pid}" in capsys.readouterr().out

        _round_trip_one_message(first.bootstrap, unique_id)
    finally:
        stopped = launcher.stop_broker(config.pid_path)

    assert stopped == first.pid
    assert not config.pid_path.exists()
    assert not launcher.broker_alive(first.pid)
    with pytest.raises(ProcessLookupError):
        os.kill(first.pid, 0)
    assert not launcher.port_open(config.port)
    assert main(_cli(config, "status")) == 1
    assert "not running" in capsys.readouterr().out
