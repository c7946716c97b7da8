"""Assemble, format, start, probe and stop a local single-node Apache Kafka (KRaft) broker."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient

KAFKA_DIR = Path(__file__).resolve().parent
POM_PATH = KAFKA_DIR / "pom.xml"
LOG4J_CONFIG = KAFKA_DIR / "log4j2.properties"
DEFAULT_DATA_DIR = Path.home() / ".local" / "state" / "dbsync2" / "kafka"
# A fixed 512 MB heap is what a single test broker needs (and what StorageTool wants); G1 as
# in Kafka's own launch scripts.
JVM_OPTIONS = ("-Xms512m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true")
# After SIGTERM the broker's shutdown hook flushes logs and leaves the quorum; 30 s is ample for
# a single node. Only after that do we send SIGKILL.
STOP_GRACE_SECONDS = 30.0
_POLL_SECONDS = 0.1
Popen = subprocess.Popen[bytes]
_MARKER = ".complete"


class LauncherError(RuntimeError):
    """The broker could not be resolved, formatted, started or probed."""


@dataclass(frozen=True)
class BrokerConfig:
    """Where one local broker keeps its files and which loopback ports it listens on."""

    data_dir: Path = DEFAULT_DATA_DIR
    port: int = 9092
    controller_port: int = 9093
    pid_file: Path | None = None
    libs_dir: Path | None = None
    extra_properties: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_path(self) -> Path:
        return self.pid_file if self.pid_file is not None else self.data_dir / "kafka.pid"

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "kraft-logs"

    @property
    def properties_path(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def console_log(self) -> Path:
        return self.data_dir / "kafka.log"


@dataclass(frozen=True)
class StartResult:
    """Outcome of `ensure_started`: who runs where, and how long starting took."""

    pid: int
    bootstrap: str
    already_running: bool
    seconds: float


def kafka_version(pom: Path = POM_PATH) -> str:
    """Read the broker version from the `kafka.version` property of the launcher's pom."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)  # noqa: S314 (our file)
    if node is None or not node.text:
        raise LauncherError(f"no kafka.version property in {pom}")
    return node.text.strip()


def default_libs_dir(version: str) -> Path:
    return Path.home() / ".cache" / "dbsync2" / "kafka-libs" / version


def resolve_kafka_libs(libs_dir: Path | None = None, pom: Path = POM_PATH) -> Path:
    """Return a directory with every broker jar, running Maven only if it is not cached yet."""
    target = libs_dir if libs_dir is not None else default_libs_dir(kafka_version(pom))
    if (target / _MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Resolve into a sibling temp dir and rename, so concurrent starts never see half a libs dir.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    mvn_goal = ["-B", "-ntp", "dependency:copy-dependencies", "-DincludeScope=runtime"]
    argv = ["mvn", "-f", str(pom), *mvn_goal, f"-DoutputDirectory={staging}"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise LauncherError(f"mvn failed ({done.returncode}):\n{done.stdout[-4000:]}")
    (staging / _MARKER).write_text(kafka_version(pom) + "\n")
    try:
        staging.rename(target)
    except OSError:  # another process won the race (or a stale, unmarked dir is there)
        if not (target / _MARKER).exists():
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        else:
            shutil.rmtree(staging, ignore_errors=True)
    return target


_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers={ctrl}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://{bootstrap},CONTROLLER://{ctrl}
advertised.listeners=PLAINTEXT://{bootstrap},CONTROLLER://{ctrl}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={log_dirs}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
"""


def server_properties(config: BrokerConfig) -> dict[str, str]:
    """The single-node KRaft settings: loopback only, replication 1 everywhere, fast groups."""
    text = _SERVER_PROPERTIES.format(
        ctrl=f"127.0.0.1:{config.controller_port}",
        bootstrap=config.bootstrap,
        log_dirs=config.log_dirs,
    )
    props = dict(line.split("=", 1) for line in text.splitlines())
    return props | config.extra_properties


def read_server_properties(config: BrokerConfig) -> dict[str, str]:
    """The properties last written to the data dir, or {} if there are none."""
    try:
        lines = config.properties_path.read_text().splitlines()
    except OSError:
        return {}
    return dict(ln.split("=", 1) for ln in lines if "=" in ln and not ln.startswith("#"))


def write_server_properties(config: BrokerConfig) -> Path:
    """Write server.properties; refuse to move a formatted data dir to another controller port."""
    quorum = "controller.quorum.bootstrap.servers"
    before = read_server_properties(config).get(quorum)
    if before and is_formatted(config) and before != server_properties(config)[quorum]:
        raise LauncherError(
            f"{config.data_dir} was formatted for controller {before}; "
            "use that --controller-port or a fresh --data-dir"
        )
    config.data_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# Written by `python -m ops.kafka start`; rewritten on every start."]
    lines += [f"{key}={value}" for key, value in server_properties(config).items()]
    config.properties_path.write_text("\n".join(lines) + "\n")
    return config.properties_path


def new_cluster_id() -> str:
    """16 random bytes as unpadded URL-safe base64; Kafka rejects ids that start with '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def is_formatted(config: BrokerConfig) -> bool:
    return (config.log_dirs / "meta.properties").exists()


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
        time.sleep(_POLL_SECONDS)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    remaining = max(deadline - time.monotonic(), 1.0)
    try:
        admin.list_topics(timeout=remaining)
    except Exception as exc:
        raise LauncherError(f"metadata call to {bootstrap} failed: {exc}") from exc


def recorded_bootstrap(config: BrokerConfig) -> str:
    """The address the broker in `config.data_dir` was last started on (else the configured one)."""
    listeners = read_server_properties(config).get("advertised.listeners", "").split(",")
    found = [item.split("://", 1)[1] for item in listeners if item.startswith("PLAINTEXT://")]
    return found[0] if found else config.bootstrap


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _reap(pid: int) -> bool:
    """Reap `pid` if it is our exited child; False only while our child is still exiting."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:  # not our child (its parent reaps it) or already reaped
        return True


def process_exists(pid: int) -> bool:
    """True while `pid` exists and has not finished exiting (our own child is reaped here)."""
    _reap(pid)
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    if "zombie" in next((ln for ln in status.splitlines() if ln.startswith("State:")), ""):
        # A JVM's main thread turns zombie before its other threads are gone; until then
        # waitpid cannot reap it, and the pid still exists.
        return not _reap(pid)
    return True


def broker_alive(pid: int) -> bool:
    """True if `pid` is a live `kafka.Kafka` JVM; guards against recycled pids."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"kafka.Kafka" in cmdline and process_exists(pid)


def running_pid(pid_file: Path) -> int | None:
    pid = read_pid(pid_file)
    return pid if pid is not None and broker_alive(pid) else None


def rss_kib(pid: int) -> int:
    """Resident set size of `pid` in KiB, from /proc/<pid>/status VmRSS."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LauncherError(f"no VmRSS for pid {pid}")


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
        _terminate(process.pid, grace=10.0)
        if not isinstance(exc, LauncherError):
            raise
        tail = config.console_log.read_text(errors="replace").splitlines()[-40:]
        raise LauncherError("\n--- last log lines ---\n".join([str(exc), "\n".join(tail)])) from exc
    config.pid_path.parent.mkdir(parents=True, exist_ok=True)
    config.pid_path.write_text(f"{process.pid}\n")
    return StartResult(process.pid, config.bootstrap, False, time.monotonic() - began)


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while process_exists(pid):  # not broker_alive: an exiting JVM's cmdline is already empty
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def _terminate(pid: int, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, grace):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 10.0)


def stop_broker(pid_file: Path, grace: float = STOP_GRACE_SECONDS) -> int | None:
    """SIGTERM the pid in `pid_file`, SIGKILL after `grace` s; return the pid that was stopped."""
    pid = running_pid(pid_file)
    if pid is not None:
        _terminate(pid, grace)
    pid_file.unlink(missing_ok=True)
    return pid
