"""`bash ops/quickstart.sh` from the repo: expected rows in SQLite, then `stop` leaves nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from ops.truth.oracle import expected_rows
from tests.cli.cli_process import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONTACTS = 30


def run_quickstart(command: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBSYNC_", "KAFKA_"))}
    env.update(QUICKSTART_STATE_DIR=str(state), QUICKSTART_CONTACTS=str(CONTACTS),
               QUICKSTART_RATE="0.2")  # fmt: skip
    return subprocess.run(
        ["bash", str(REPO_ROOT / "ops" / "quickstart.sh"), command],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def generated_campaign_rows() -> dict[str, dict[str, dict[str, object]]]:
    """The rows the simulator's seeded campaign (seed 42, as the quickstart runs it) implies."""
    from simulator.campaign import Campaign

    campaign = Campaign.generate(42, CONTACTS, CONTACTS // 4, campaign_id="DEMO")
    truth = {
        "fields": campaign.fields,
        "contacts": [campaign.contacts[cid] for cid in campaign.contact_order],
        "inbound_calls": campaign.inbound_calls,
    }
    return expected_rows(truth)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


def test_quickstart_loads_sqlite_and_stop_leaves_no_process(tmp_path: Path) -> None:
    state = tmp_path / "quickstart"
    pids: dict[str, int] = {}
    try:
        started = run_quickstart("start", state)
        assert started.returncode == 0, started.stdout + started.stderr
        pids = {p.stem: int(p.read_text()) for p in state.glob("*.pid")}
        assert set(pids) == {"kafka", "simulator", "receiver", "db_sync", "webhook"}
        assert all(alive(pid) for pid in pids.values())
        assert "SQLite database:" in started.stdout
        assert "contacts per status" in started.stdout

        again = run_quickstart("start", state)
        assert again.returncode == 0, again.stderr
        assert again.stdout.count("already running") == 5
        assert {p.stem: int(p.read_text()) for p in state.glob("*.pid")} == pids

        expected = generated_campaign_rows()
        with sqlite3.connect(state / "dbsync2.sqlite") as db:
            for table, rows in expected.items():
                key = '"$id"' if table == "contacts" else "id"
                have = {str(r[0]) for r in db.execute(f'SELECT {key} FROM "{table}"')}
                assert set(rows) <= have, table
    finally:
        stopped = run_quickstart("stop", state)
    assert stopped.returncode == 0, stopped.stderr
    assert [name for name, pid in pids.items() if alive(pid)] == []
    assert list(state.glob("*.pid")) == []
    assert "db_sync: stopped cleanly" in (state / "logs" / "db_sync.log").read_text()
    leftovers = [
        p.name for p in Path("/proc").iterdir() if p.name.isdigit() and str(state) in _cmdline(p)
    ]
    assert leftovers == []


def _cmdline(proc_dir: Path) -> str:
    try:
        return (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
