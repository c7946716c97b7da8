"""The CLI as a process: help, dispatch, and every exit-1 case with its one-line reason."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbsync2.legacy_flags import FLAGS
from tests.cli.cli_process import run_cli

PG = "postgres://u:p@127.0.0.1:5432/db"


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def assert_one_line_failure(result: object, message: str) -> None:
    rc, stderr = result.returncode, result.stderr  # type: ignore[attr-defined]
    assert rc == 1, stderr
    assert "Traceback" not in stderr
    assert stderr.strip() == message


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "Campaign ID (--c) is required"),
        (["--a", "db_init", "--ct", "T", "--url", PG], "Campaign ID (--c) is required"),
        (["--a=db_init", "--c=C", "--url", PG], "Campaign token (--ct) is required"),
        (["-a", "db_magic", "-c", "C", "-ct", "T"], "Invalid mode: db_magic"),
        (["--a", "db_sync", "--c", "C", "--ct", "T", "--url", ""],
         "Database URL (--url) is required"),
        (["--a", "db_sync", "--c", "C", "--ct", "T", "--url", "mysql"],
         "Invalid database URL 'mysql': expected <driver>://..."),
        (["--a", "db_sync", "--c", "C", "--ct", "T", "--url", "mongodb://u:pw@h/db"],
         "Invalid database driver 'mongodb'"),
        (["--a", "webhook", "--c", "C", "--ct", "T", "--url", "not a url"],
         "Invalid webhook URL 'not a url': expected http(s)://host/..."),
    ],
)  # fmt: skip
def test_usage_errors_exit_1_with_the_original_message(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    assert_one_line_failure(run_cli(argv, tmp_path), message)


def test_environment_variables_reach_the_process(tmp_path: Path) -> None:
    env = {"DBSYNC_C": "C", "DBSYNC_CT": "T", "DBSYNC_A": "db_copy"}
    assert_one_line_failure(run_cli([], tmp_path, env), "Invalid mode: db_copy")
    assert_one_line_failure(run_cli(["--a", "db_nope"], tmp_path, env), "Invalid mode: db_nope")


def test_unreachable_database_exits_1_without_the_password(tmp_path: Path) -> None:
    port = unused_port()
    url = f"postgres://dbsync:Pa55word-xyz@127.0.0.1:{port}/nowhere"
    result = run_cli(["--a", "db_init", "--c", "C", "--ct", "T", "--url", url, "--log-dir",
                      str(tmp_path)], tmp_path)  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Database unreachable at postgres://dbsync:***@127.0.0.1:{port}/")
    logged = "".join(p.read_text() for p in tmp_path.glob("*.log"))
    for text in (result.stdout, result.stderr, logged):
        assert "Pa55word-xyz" not in text
        assert "Traceback" not in result.stderr


def test_unreachable_kafka_exits_1_within_the_timeout(tmp_path: Path) -> None:
    port = unused_port()
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = run_cli(
        ["--a", "db_init", "--c", "C", "--ct", "T", "--url", url, "--kafka-timeout", "2",
         "--log-dir", str(tmp_path)],
        tmp_path,
        {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"},
        timeout=60,
    )  # fmt: skip
    assert_one_line_failure(result, f"Kafka unreachable at 127.0.0.1:{port} within 2 s")


@pytest.fixture
def forbidding_simulator() -> Iterator[str]:
    from simulator.campaign import Campaign
    from simulator.server import SimulatorServer

    campaign = Campaign.generate(7, contacts=3, inbound_calls=1, campaign_id="FORBID")
    server = SimulatorServer(campaign, port=0, token="good-token", forbidden_token="revoked-tok")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.mark.integration
def test_forbidden_token_exits_1_with_a_clear_message(
    tmp_path: Path, kafka_bootstrap: str, forbidding_simulator: str
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = run_cli(
        ["--a", "db_init", "--c", "FORBID", "--ct", "revoked-tok", "--url", url,
         "--api-url", forbidding_simulator, "--log-dir", str(tmp_path)],
        tmp_path,
        {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "403" in lines[0]
    assert "FORBID" in lines[0]
    assert "revoked-tok" not in result.stderr + result.stdout


def test_help_lists_every_flag_both_examples_env_and_subcommands(tmp_path: Path) -> None:
    result = run_cli(["--help"], tmp_path)
    assert result.returncode == 0
    text = result.stdout
    for spec in FLAGS:
        assert f"--{spec.name}" in text
        for env in spec.env_names:
            assert env in text
    assert "--a db_sync --fm hi_updates_only --fp 'fc_,qc_'" in text
    assert "--s 2018-02-01" in text
    assert "sqlserver://my_user:my_password@localhost:1433/my_database" in text
    assert "--a webhook --c MY_CAMPAIGN_ID" in text
    assert "https://example.com/api/transactions/" in text
    assert "prefixed by 'DBSYNC_' in all upper case" in text
    for sub in ("producer", "consume sql", "consume webhook", "dlq", "simulate", "topics"):
        assert f"dbsync2 {sub}" in text
    assert run_cli(["-h"], tmp_path).stdout == text


def test_simulate_dispatches_to_the_simulator(tmp_path: Path) -> None:
    result = run_cli(["simulate", "--help"], tmp_path)
    assert result.returncode == 0
    assert "--contacts" in result.stdout
    assert "Dialfire" in result.stdout


def test_topics_list_derives_names_from_the_catalogue(tmp_path: Path) -> None:
    result = run_cli(["topics", "list", "--c", "MY CAMP"], tmp_path)
    assert result.returncode == 0, result.stderr
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert names == ["dbsync2.MY_CAMP.events", "dbsync2.MY_CAMP.dlq.sql",
                     "dbsync2.MY_CAMP.dlq.webhook"]  # fmt: skip
