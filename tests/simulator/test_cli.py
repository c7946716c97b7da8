"""``python -m simulator``: token from the environment, serves, and exits 0 on SIGTERM."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys

import pytest
import requests

from simulator.__main__ import main


def test_cli_serves_until_sigterm() -> None:
    env = dict(os.environ, SIMULATOR_TOKEN="cli-token")
    argv = [sys.executable, "-m", "simulator", "--port", "0", "--contacts", "20", "--seed", "5"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "the simulator printed no start-up line within 60 s"
        match = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
        assert match, "start-up line has no URL"
        url = f"{match.group(0)}/api/campaigns/DEMO/fields/list"
        headers = {"Authorization": "Bearer cli-token"}
        assert requests.get(url, headers=headers, timeout=30).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_cli_rejects_a_missing_token_and_bad_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIMULATOR_TOKEN", raising=False)
    assert main(["--port", "0", "--contacts", "1"]) == 2
    assert main(["--token", "x", "--contacts", "1", "--error-rate", "2"]) == 2
