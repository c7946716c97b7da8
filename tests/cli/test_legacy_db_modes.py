"""`dbsync2 --a db_init|db_update` as a process: exits 0 and the tables equal the ground truth."""

from __future__ import annotations

import re
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ops.truth.compare import read_table, table_differences
from ops.truth.oracle import expected_rows, fetch_truth
from tests.cli.cli_process import run_cli
from tests.cli.conftest import RunningSimulator

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def run_legacy(
    mode: str, url: str, sim: RunningSimulator, kafka: str, tmp_path: Path, *extra: str
) -> Any:
    args = ["--a", mode, "--c", sim.campaign_id, "--url", url, "--api-url", sim.url,
            "--state-dir", str(tmp_path / "state"), "--log-dir", str(tmp_path / "logs"),
            *extra]  # fmt: skip
    # The token comes from the environment, as in a container.
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka, "DBSYNC_CT": sim.token}
    result = run_cli(args, tmp_path, env, timeout=240)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    return result


def assert_tables_equal_truth(url: str, sim: RunningSimulator, truth: dict[str, Any]) -> None:
    engine = sa.create_engine(url)
    try:
        problems = table_differences(engine, expected_rows(truth))
    finally:
        engine.dispose()
    assert problems == []


@pytest.mark.parametrize("database", ["sqlite", "postgres", "mariadb"])
def test_db_init_materializes_the_whole_campaign(
    database: str,
    request: pytest.FixtureRequest,
    simulator: RunningSimulator,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    url = {
        "sqlite": lambda: f"sqlite:///{tmp_path / 'dbsync2.sqlite'}",
        "postgres": lambda: request.getfixturevalue("pg_schema_url"),
        "mariadb": lambda: request.getfixturevalue("mariadb_db_url"),
    }[database]()
    result = run_legacy("db_init", url, simulator, kafka_bootstrap, tmp_path)
    truth = fetch_truth(simulator.url, simulator.token)
    assert_tables_equal_truth(url, simulator, truth)
    assert "db_init finished" in result.stdout
    assert f"contacts{'':>16}{len(truth['contacts']):>10} rows" in result.stdout
    assert re.search(r"^  dead letters \(this run\) +0$", result.stdout, flags=re.MULTILINE)
    assert "duration" in result.stdout


def test_db_update_loads_only_what_changed_since_the_date(
    simulator: RunningSimulator, kafka_bootstrap: str, tmp_path: Path
) -> None:
    truth = fetch_truth(simulator.url, simulator.token)
    dates = sorted(str(c["$entry_date"])[:10] for c in truth["contacts"])
    since = dates[len(dates) // 2]
    url = f"sqlite:///{tmp_path / 'update.sqlite'}"
    run_legacy("db_update", url, simulator, kafka_bootstrap, tmp_path, "--s", since)

    changed = [c for c in truth["contacts"] if str(c["$entry_date"])[:10] >= since]
    calls = [c for c in truth["inbound_calls"] if str(c["call_time"]) >= since]
    assert 0 < len(changed) < len(truth["contacts"])
    expected = expected_rows({**truth, "contacts": changed, "inbound_calls": calls})
    engine = sa.create_engine(url)
    try:
        assert table_differences(engine, expected) == []
        assert set(read_table(engine, "contacts")) == {str(c["$id"]) for c in changed}
    finally:
        engine.dispose()


def caught_up(log_dir: Path) -> bool:
    """Return True once the legacy run logged that its first load is materialized."""
    return any("caught up; following live changes" in p.read_text() for p in log_dir.glob("*.log"))


def test_db_sync_follows_live_changes_until_sigterm(
    unique_id: str, kafka_bootstrap: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from tests.cli.cli_process import start_cli
    from tests.cli.conftest import SIM_TOKEN, delete_campaign_topics, start_simulator
    from tests.support.waiting import wait_for

    server: Any = start_simulator(f"SYNC{unique_id}", contacts=15, rate=3.0)
    url = f"sqlite:///{tmp_path / 'sync.sqlite'}"
    args = ["--a", "db_sync", "--c", f"SYNC{unique_id}", "--ct", SIM_TOKEN, "--url", url,
            "--api-url", server.url, "--state-dir", str(tmp_path / "state"),
            "--log-dir", str(tmp_path / "logs"), "--poll-interval", "1"]  # fmt: skip
    process = start_cli(args, tmp_path, {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap})
    engine = sa.create_engine(url)

    def newest_fired() -> str:
        try:
            with engine.connect() as connection:
                query = sa.text("SELECT MAX(fired) FROM transactions")
                return str(connection.execute(query).scalar_one() or "")
        except sa.exc.OperationalError:
            return ""  # the table does not exist yet

    try:
        wait_for(lambda: caught_up(tmp_path / "logs") or process.poll() is not None,
                 timeout=120, message="the first load never caught up")  # fmt: skip
        loaded_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        # A transaction fired after the load was seen can only have come by live polling.
        wait_for(lambda: newest_fired() > loaded_at or process.poll() is not None, timeout=120,
                 message="no live change reached SQLite")  # fmt: skip
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        engine.dispose()
        server.stop()
        delete_campaign_topics(request, f"SYNC{unique_id}")
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "caught up; following live changes" in stdout
    assert "db_sync: stopped cleanly" in stdout
