"""Run `python -m dbsync2 ...` as a child process with a clean, controlled environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def clean_environment(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return os.environ without DBSYNC_*/KAFKA_* variables, with HOME pointing at `home`."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DBSYNC_", "KAFKA_", "DIALFIRE_"))
    }
    env["HOME"] = str(home)
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra or {})
    return env


def cli_command(*args: str) -> list[str]:
    """Return the argv that runs the dbsync2 CLI with this interpreter."""
    return [sys.executable, "-m", "dbsync2", *args]


def run_cli(
    args: list[str], home: Path, env: Mapping[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion and capture its output."""
    return subprocess.run(
        cli_command(*args),
        env=clean_environment(home, env),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(
    args: list[str], home: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start the CLI in the background, output captured."""
    return subprocess.Popen(
        cli_command(*args),
        env=clean_environment(home, env),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
