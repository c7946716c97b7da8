"""Run one pipeline component as a child process: start, SIGKILL, restart, stop, measure RSS."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STOP_GRACE_SECONDS = 20.0
PR_SET_PDEATHSIG = 1
try:  # resolved here, not in the forked child (no dlopen between fork and exec)
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:
    _LIBC = None


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the harness dies, so a killed harness leaves no orphans."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def dbsync2_argv(*words: str) -> list[str]:
    """The argv that runs the `dbsync2` console script with this interpreter."""
    return [sys.executable, "-m", "dbsync2.cli", *words]


def rss_kib(pid: int) -> int | None:
    """Resident set size of `pid` in KiB, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time `pid` has used so far, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Component:
    """One long-running service the harness owns (it only ever signals PIDs it started)."""

    name: str
    argv: Sequence[str]
    log_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    started_at: float = 0.0  # monotonic
    kills: int = 0
    unexpected_exits: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        """The running child's PID."""
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        """Start the process (output appended to `<log_dir>/<name>.log`)."""
        if self.alive():
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{self.name}.log").open("ab") as log:
            log.write(f"\n=== start #{self.starts + 1} at {time.time():.3f}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                list(self.argv),
                cwd=REPO,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # components are started from the main thread only
            )
        self.starts += 1
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        """True while the child runs."""
        return self.process is not None and self.process.poll() is None

    def check_exit(self) -> int | None:
        """If the child exited on its own since the last look, record and return its code."""
        if self.process is None or self.process.poll() is None:
            return None
        code = self.process.returncode
        self.unexpected_exits.append(code)
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL the child (a crash) and reap it."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None
        self.kills += 1

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> int | None:
        """SIGTERM, SIGKILL after `grace` s; return the exit code."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(timeout=30)

    def rss(self) -> int | None:
        """Current RSS in KiB."""
        pid = self.pid
        return rss_kib(pid) if pid is not None and self.alive() else None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the component's log."""
        path = self.log_dir / f"{self.name}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
