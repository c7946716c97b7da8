"""CI chaos soak: the whole pipeline under random faults for DBSYNC_CHAOS_SECONDS (default 300)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Startup, calming down (a database cut is served in full: 30 s), catching up and the checks take
# about two minutes on 2 cores; the extra margin only trips on a real hang.
SLACK_SECONDS = 420
SECONDS = float(os.environ.get("DBSYNC_CHAOS_SECONDS", "300"))


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(SECONDS + SLACK_SECONDS + 60)
def test_chaos_soak_loses_nothing(postgres_url: str, mariadb_url: str, tmp_path: Path) -> None:
    seconds = SECONDS
    report_path = tmp_path / "chaos.json"
    env = dict(os.environ, DBSYNC_TEST_POSTGRES_URL=postgres_url,
               DBSYNC_TEST_MARIADB_URL=mariadb_url)  # fmt: skip
    argv = [sys.executable, "-m", "ops.chaos", "--duration", str(seconds),
            "--report", str(report_path)]  # fmt: skip
    if os.environ.get("DBSYNC_CHAOS_SEED"):
        argv += ["--seed", os.environ["DBSYNC_CHAOS_SEED"]]
    log_path = tmp_path / "chaos.log"
    with log_path.open("w") as log:
        harness = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            returncode = harness.wait(timeout=seconds + SLACK_SECONDS)
        finally:
            if harness.poll() is None:  # SIGTERM lets the harness stop what it started
                harness.terminate()
                try:
                    harness.wait(timeout=90)
                except subprocess.TimeoutExpired:
                    harness.kill()
                    harness.wait()
    output = log_path.read_text(errors="replace")
    assert report_path.exists(), f"no report; output:\n{output[-3000:]}"
    report = json.loads(report_path.read_text())
    summary = json.dumps({k: v for k, v in report.items() if k != "fault_timeline"}, indent=1)
    assert "error" not in report, summary
    assert "quiet_error" not in report, summary
    assert report["duration_s"] >= seconds * 0.95, summary
    assert sum(report["faults_injected"].values()) >= seconds / 30, summary
    assert report["events"]["total"] > 0 and report["activity_changes"] > 0, summary
    assert report["rows_compared"] == 2 * report["truth"]["expected_rows"], summary
    assert report["mismatches"] == 0, summary
    assert report["lost"] == 0, summary
    webhook = report["webhook"]
    assert webhook["lost"] == 0 and webhook["unknown_ids_received"] == 0, summary
    assert "NO REASON" not in webhook["dead_letter_reasons"], summary
    for name, part in report["sql"].items():
        assert part["dead_letters"] == 0, f"{name}: {summary}"
    for name, part in report["components"].items():
        assert not part["unexpected_exits"], f"{name} crashed by itself: {summary}"
    assert returncode == 0, summary
