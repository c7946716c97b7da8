"""Find, probe and stop the broker's JVM by pid: pid file, /proc, SIGTERM then SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from ops.kafka.broker_config import LauncherError

# How often a wait re-checks /proc or a port: short next to a JVM's seconds-long start/stop.
POLL_SECONDS = 0.1


def read_pid(pid_file: Path) -> int | None:
    """The pid written in `pid_file`, or None if the file is missing or garbled."""
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
    """The pid in `pid_file` if it names a live broker, else None."""
    pid = read_pid(pid_file)
    return pid if pid is not None and broker_alive(pid) else None


def rss_kib(pid: int) -> int:
    """Resident set size of `pid` in KiB, from /proc/<pid>/status VmRSS."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LauncherError(f"no VmRSS for pid {pid}")


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while process_exists(pid):  # not broker_alive: an exiting JVM's cmdline is already empty
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def terminate(pid: int, grace: float) -> None:
    """SIGTERM `pid`, SIGKILL it if it is not gone after `grace` s, and wait until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, grace):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 10.0)
