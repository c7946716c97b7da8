"""Start (or stop) the whole demo pipeline without Docker: Kafka, simulator, db_sync, webhook relay.

`python -m ops.quickstart [start|stop|status]`; `bash ops/quickstart.sh` is the front door.
Everything lives under `.state/quickstart/` (or $QUICKSTART_STATE_DIR): data, logs, pid files and
the ports chosen. Running `start` twice is safe: a piece whose pid file names a live process of
ours is left alone. `stop` ends exactly the processes named in our pid files, never by name.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = "DEMO"
# The simulator's token; a demo secret, handed to children through the environment only.
DEMO_TOKEN = "quickstart-demo-token"  # noqa: S105 - the local simulator's, not a real secret
# A cold JVM plus Maven resolving Kafka's jars the first time: 3 minutes only trips on failure.
KAFKA_START_TIMEOUT_S = 180.0
LOAD_TIMEOUT_S = 300.0
STOP_GRACE_S = 30.0
_DEFAULT_PORTS = {"kafka": 9092, "controller": 9093, "simulator": 8088, "receiver": 8099}


class QuickstartError(Exception):
    """A piece did not start; the message says which and where its log is."""


@dataclass(frozen=True)
class Layout:
    """Where the quickstart keeps everything."""

    root: Path

    def pid(self, name: str) -> Path:
        return self.root / f"{name}.pid"

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    @property
    def sqlite(self) -> Path:
        return self.root / "dbsync2.sqlite"

    @property
    def received(self) -> Path:
        return self.root / "webhook-received.jsonl"

    @property
    def ports_file(self) -> Path:
        return self.root / "ports.json"


def port_in_use(port: int) -> bool:
    """Return True when something accepts connections on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    """Return a port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def choose_ports(layout: Layout) -> dict[str, int]:
    """Reuse the ports of an earlier run, else the defaults, else free ones."""
    if layout.ports_file.exists():
        saved: dict[str, int] = json.loads(layout.ports_file.read_text())
        return saved
    ports = {name: (free_port() if port_in_use(port) else port)
             for name, port in _DEFAULT_PORTS.items()}  # fmt: skip
    layout.ports_file.write_text(json.dumps(ports))
    return ports


def running_pid(pid_file: Path, marker: str) -> int | None:
    """Return the pid in `pid_file` if that process is alive and its command line has `marker`."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    if state in {"Z", "X"}:  # exited, not yet reaped by its parent
        return None
    return pid if marker in cmdline else None


def spawn(layout: Layout, name: str, args: list[str], env: dict[str, str], marker: str) -> int:
    """Start `args` detached (own session), output to its log; record its pid. Idempotent."""
    pid = running_pid(layout.pid(name), marker)
    if pid is not None:
        print(f"  {name:<14} already running (pid {pid})")
        return pid
    layout.log(name).parent.mkdir(parents=True, exist_ok=True)
    with layout.log(name).open("ab") as log:
        process = subprocess.Popen(
            args, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    layout.pid(name).write_text(str(process.pid))
    print(f"  {name:<14} started (pid {process.pid}, log {layout.log(name)})")
    return process.pid


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, layout: Layout, name: str
) -> None:
    """Poll `check()` until true; raise QuickstartError naming the log otherwise."""
    deadline = time.monotonic() + timeout
    while not check():
        if running_pid(layout.pid(name), "") is None:
            raise QuickstartError(f"{name} exited; see {layout.log(name)}")
        if time.monotonic() > deadline:
            raise QuickstartError(f"{what} not ready after {timeout:g} s; see {layout.log(name)}")
        time.sleep(0.5)


def child_env(ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBSYNC_")}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{ports['kafka']}",
        SIMULATOR_TOKEN=DEMO_TOKEN,
        DBSYNC_CT=DEMO_TOKEN,
        PYTHONUNBUFFERED="1",
    )
    return env


def start_kafka(layout: Layout, ports: dict[str, int]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ops.kafka", "start", "--port", str(ports["kafka"]),
         "--controller-port", str(ports["controller"]), "--data-dir", str(layout.root / "kafka"),
         "--pid-file", str(layout.pid("kafka")), "--timeout", str(KAFKA_START_TIMEOUT_S)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise QuickstartError(f"Kafka did not start: {result.stderr.strip() or result.stdout}")
    print(f"  {'kafka':<14} {result.stdout.strip()}")


def start(layout: Layout) -> int:
    """Start every piece (or leave it running) and print where the data is."""
    layout.root.mkdir(parents=True, exist_ok=True)
    ports = choose_ports(layout)
    env = child_env(ports)
    py = sys.executable
    contacts = os.environ.get("QUICKSTART_CONTACTS", "200")
    rate = os.environ.get("QUICKSTART_RATE", "0.5")
    print(f"dbsync2 quickstart: everything lives in {layout.root}")
    start_kafka(layout, ports)
    spawn(layout, "simulator", [py, "-m", "dbsync2", "simulate", "--port", str(ports["simulator"]),
          "--campaign-id", CAMPAIGN, "--contacts", contacts, "--seed", "42", "--rate", rate],
          env, "simulate")  # fmt: skip
    wait_until(lambda: port_in_use(ports["simulator"]), 60, "simulator", layout, "simulator")
    spawn(layout, "receiver", [py, "-m", "ops.demo_receiver", "--port", str(ports["receiver"]),
          "--log", str(layout.received)], env, "ops.demo_receiver")  # fmt: skip
    wait_until(lambda: port_in_use(ports["receiver"]), 30, "demo receiver", layout, "receiver")
    db_sync_log = layout.log("db_sync")
    already = running_pid(layout.pid("db_sync"), "dbsync2") is not None
    spawn(layout, "db_sync", [py, "-m", "dbsync2", "--a", "db_sync", "--c", CAMPAIGN,
          "--url", f"sqlite:///{layout.sqlite}", "--api-url",
          f"http://127.0.0.1:{ports['simulator']}", "--state-dir", str(layout.root / "producer"),
          "--log-dir", str(layout.root / "logs"), "--poll-interval", "5"],
          env, "dbsync2")  # fmt: skip
    if not already:
        print("  waiting for the initial load into SQLite ...")
        wait_until(lambda: "caught up" in db_sync_log.read_text(errors="replace"),
                   LOAD_TIMEOUT_S, "initial load", layout, "db_sync")  # fmt: skip
    spawn(layout, "webhook", [py, "-m", "dbsync2", "consume", "webhook", "--campaign", CAMPAIGN,
          "--url", f"http://127.0.0.1:{ports['receiver']}/dbsync2", "--wr", "50",
          "--bootstrap-servers", f"127.0.0.1:{ports['kafka']}"], env, "dbsync2")  # fmt: skip
    print_report(layout, ports)
    return 0


QUERIES = (
    ("contacts per status", 'SELECT "$status", COUNT(*) FROM contacts GROUP BY 1 ORDER BY 2 DESC'),
    ("transactions per result (top 5)",
     "SELECT result, COUNT(*) FROM transactions GROUP BY 1 ORDER BY 2 DESC LIMIT 5"),
    ("latest transactions",
     'SELECT fired, contact_id, task, status FROM transactions ORDER BY fired DESC LIMIT 3'),
)  # fmt: skip


def print_report(layout: Layout, ports: dict[str, int]) -> None:
    """Print where the data is and a few queries with their current results."""
    print(f"\nSQLite database: {layout.sqlite}  (synced live every 5 s by db_sync)")
    with sqlite3.connect(f"file:{layout.sqlite}?mode=ro", uri=True) as db:
        for table in ("contacts", "transactions", "connections", "recordings", "inbound_calls"):
            count = db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            print(f"  {table:<15}{count:>7} rows")
        for title, sql in QUERIES:
            print(f"\n  -- {title}\n  {sql};")
            for row in db.execute(sql).fetchall():
                print("    " + " | ".join("" if v is None else str(v) for v in row))
    received = layout.received.read_text().count("\n") if layout.received.exists() else 0
    print(f"\nWebhook receiver: http://127.0.0.1:{ports['receiver']}/ -> {layout.received} "
          f"({received} POSTs so far; the relay keeps delivering)")  # fmt: skip
    print(f"Simulator (Dialfire API): http://127.0.0.1:{ports['simulator']}  campaign {CAMPAIGN}")
    print(f"Kafka: 127.0.0.1:{ports['kafka']}   logs: {layout.root / 'logs'}")
    print(
        f"Query it yourself: python3 -c \"import sqlite3; print(sqlite3.connect('{layout.sqlite}')"
        ".execute('SELECT COUNT(*) FROM transactions').fetchone())\""
    )
    print("Stop everything: bash ops/quickstart.sh stop")


def stop_process(layout: Layout, name: str, marker: str) -> None:
    """SIGTERM the process of one pid file, SIGKILL after the grace period; remove the file."""
    pid = running_pid(layout.pid(name), marker)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while running_pid(layout.pid(name), marker) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        if running_pid(layout.pid(name), marker) is not None:
            os.kill(pid, signal.SIGKILL)
        print(f"  {name:<14} stopped (pid {pid})")
    layout.pid(name).unlink(missing_ok=True)


def stop(layout: Layout) -> int:
    """Stop everything the quickstart started, newest first."""
    for name, marker in (("webhook", "dbsync2"), ("db_sync", "dbsync2"),
                         ("receiver", "ops.demo_receiver"), ("simulator", "simulate")):  # fmt: skip
        stop_process(layout, name, marker)
    if layout.pid("kafka").exists():
        subprocess.run([sys.executable, "-m", "ops.kafka", "stop", "--pid-file",
                        str(layout.pid("kafka")), "--data-dir", str(layout.root / "kafka")],
                       cwd=REPO_ROOT, check=False)  # fmt: skip
    print("quickstart stopped; data kept in", layout.root)
    return 0


def status(layout: Layout) -> int:
    """Print which pieces run; exit 0 only if all do."""
    markers = {"simulator": "simulate", "receiver": "ops.demo_receiver", "db_sync": "dbsync2",
               "webhook": "dbsync2", "kafka": "java"}  # fmt: skip
    alive = {name: running_pid(layout.pid(name), marker) for name, marker in markers.items()}
    for name, pid in alive.items():
        print(f"  {name:<14} {'running, pid ' + str(pid) if pid else 'not running'}")
    return 0 if all(alive.values()) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run `start` (default), `stop` or `status`."""
    args = list(sys.argv[1:] if argv is None else argv) or ["start"]
    state = os.environ.get("QUICKSTART_STATE_DIR") or str(REPO_ROOT / ".state" / "quickstart")
    layout = Layout(Path(state).resolve())
    commands = {"start": start, "stop": stop, "status": status}
    if args[0] not in commands:
        print("usage: bash ops/quickstart.sh [start|stop|status]", file=sys.stderr)
        return 2
    try:
        return commands[args[0]](layout)
    except QuickstartError as exc:
        print(f"quickstart: {exc}", file=sys.stderr)
        print("quickstart: `bash ops/quickstart.sh stop` cleans up what did start", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
