"""Assemble, format, start, probe and stop a local single-node Apache Kafka (KRaft) broker.

The entry points are `ensure_started` and `stop_broker`. The steps live in their own modules and
are re-exported here, so `from ops.kafka import launcher` reaches all of them:
`broker_config` (files and server.properties), `libs` (the jars, via Maven) and `processes`
(pid file, /proc and signals).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import AdminClient

from ops.kafka.broker_config import (
    DEFAULT_DATA_DIR,
    BrokerConfig,
    LauncherError,
    is_formatted,
    new_cluster_id,
    read_server_properties,
    recorded_bootstrap,
    server_properties,
    write_server_properties,
)
from ops.kafka.libs import KAFKA_DIR, POM_PATH, default_libs_dir, kafka_version, resolve_kafka_libs
from ops.kafka.processes import (
    POLL_SECONDS,
    broker_alive,
    process_exists,
    read_pid,
    rss_kib,
    running_pid,
    terminate,
)

__all__ = [
    "DEFAULT_DATA_DIR",
    "JVM_OPTIONS",
    "KAFKA_DIR",
    "LOG4J_CONFIG",
    "POM_PATH",
    "STOP_GRACE_SECONDS",
    "BrokerConfig",
    "LauncherError",
    "StartResult",
    "broker_alive",
    "default_libs_dir",
    "ensure_started",
    "format_storage",
    "is_formatted",
    "kafka_version",
    "new_cluster_id",
    "port_open",
    "process_exists",
    "read_pid",
    "read_server_properties",
    "recorded_bootstrap",
    "resolve_kafka_libs",
    "rss_kib",
    "running_pid",
    "server_properties",
    "start_broker",
    "stop_broker",
    "wait_until_ready",
    "write_server_properties",
]

LOG4J_CONFIG = KAFKA_DIR / "log4j2.properties"
# A fixed 512 MB heap is what a single test broker needs (and what StorageTool wants); G1 as
# in Kafka's own launch scripts.
JVM_OPTIONS = ("-Xms512m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true")
# After SIGTERM the broker's shutdown hook flushes logs and leaves the quorum; 30 s is ample for
# a single node. Only after that do we send SIGKILL.
STOP_GRACE_SECONDS = 30.0
Popen = subprocess.Popen[bytes]


@dataclass(frozen=True)
class StartResult:
    """Outcome of `ensure_started`: who runs where, and how long starting took."""

    pid: int
    bootstrap: str
    already_running: bool
    seconds: float


def _java_argv(libs: Path, config: BrokerConfig, main: str, *args: str) -> list[str]:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else (shutil.which("java") or "java")
    logging = [f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", f"-Dkafka.logs.dir={config.data_dir}"]
    return [java, *JVM_OPTIONS, *logging, "-cp", f"{libs}/*", main, *args]


def format_storage(config: BrokerConfig, libs: Path) -> bool:
    """Format the log dir once (standalone controller quorum); return whether it formatted."""
    if is_formatted(config):
        return False
    tool_args = ["format", "--standalone", "--ignore-formatted", "-t", new_cluster_id()]
    argv = _java_argv(
        libs, config, "kafka.tools.StorageTool", *tool_args, "-c", str(config.properties_path)
    )
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LauncherError(f"StorageTool format failed:\n{done.stdout}\n{done.stderr}")
    return True


def start_broker(config: BrokerConfig, libs: Path) -> Popen:
    """Start `kafka.Kafka` detached in its own session, output appended to the data dir's log."""
    argv = _java_argv(libs, config, "kafka.Kafka", str(config.properties_path))
    with config.console_log.open("ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=config.data_dir,
        )


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until_ready(bootstrap: str, timeout: float, process: Popen | None = None) -> None:
    """Wait until the client port accepts connections, then until a metadata call answers."""
    deadline = time.monotonic() + timeout
    host, _, port = bootstrap.rpartition(":")
    while not port_open(int(port), host):
        if process is not None and process.poll() is not None:
            raise LauncherError(f"broker exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise LauncherError(f"{bootstrap} not accepting connections after {timeout:g} s")
        time.sleep(POLL_SECONDS)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    remaining = max(deadline - time.monotonic(), 1.0)
    try:
        admin.list_topics(timeout=remaining)
    except Exception as exc:
        raise LauncherError(f"metadata call to {bootstrap} failed: {exc}") from exc


def ensure_started(config: BrokerConfig, timeout: float = 90.0) -> StartResult:
    """Start the broker unless the pid file names a live one; wait up to `timeout` s for it."""
    began = time.monotonic()
    pid = running_pid(config.pid_path)
    if pid is not None:
        return StartResult(pid, recorded_bootstrap(config), already_running=True, seconds=0.0)
    for port in (config.port, config.controller_port):
        if port_open(port):
            raise LauncherError(f"127.0.0.1:{port} is already in use by something else")
    libs = resolve_kafka_libs(config.libs_dir)
    write_server_properties(config)
    format_storage(config, libs)
    process = start_broker(config, libs)
    try:
        wait_until_ready(config.bootstrap, timeout, process)  # the deadline starts with the JVM
    except BaseException as exc:
        terminate(process.pid, grace=10.0)
        if not isinstance(exc, LauncherError):
            raise
        tail = config.console_log.read_text(errors="replace").splitlines()[-40:]
        raise LauncherError("\n--- last log lines ---\n".join([str(exc), "\n".join(tail)])) from exc
    config.pid_path.parent.mkdir(parents=True, exist_ok=True)
    config.pid_path.write_text(f"{process.pid}\n")
    return StartResult(process.pid, config.bootstrap, False, time.monotonic() - began)


def stop_broker(pid_file: Path, grace: float = STOP_GRACE_SECONDS) -> int | None:
    """SIGTERM the pid in `pid_file`, SIGKILL after `grace` s; return the pid that was stopped."""
    pid = running_pid(pid_file)
    if pid is not None:
        terminate(pid, grace)
    pid_file.unlink(missing_ok=True)
    return pid
