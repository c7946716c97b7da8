"""Where a local broker keeps its files and which settings it runs with (server.properties)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = Path.home() / ".local" / "state" / "dbsync2" / "kafka"


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


def recorded_bootstrap(config: BrokerConfig) -> str:
    """The address the broker in `config.data_dir` was last started on (else the configured one)."""
    listeners = read_server_properties(config).get("advertised.listeners", "").split(",")
    found = [item.split("://", 1)[1] for item in listeners if item.startswith("PLAINTEXT://")]
    return found[0] if found else config.bootstrap
