"""`dbsync2 consume custom` as a process: loads module:Class, serves metrics, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from importlib.metadata import EntryPoint, EntryPoints
from pathlib import Path

import pytest
import sqlalchemy as sa

from consumers.custom import loader
from consumers.custom.harness_kafka import messages_of, publish, scratch_campaign
from consumers.custom.loader import (
    ENTRY_POINT_GROUP,
    GroupNotFound,
    load_group_factory,
    snake_case,
)
from consumers.custom.sample_events import sample_events
from consumers.custom.service import parse_options
from schemas.topics import events_topic
from tests.conftest import free_port
from tests.custom.harnesses import AgentDailyStatsHarness
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
LAUNCH = "import sys; from consumers.custom.service import main; sys.exit(main(sys.argv[1:]))"
GROUP = "examples.agent_daily_stats:AgentDailyStats"


def start(args: list[str], bootstrap: str = "") -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), KAFKA_BOOTSTRAP_SERVERS=bootstrap)
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def status_of(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def test_loader_finds_module_class_and_names_it() -> None:
    name, factory = load_group_factory(GROUP)
    assert name == "agent_daily_stats" and factory.__name__ == "AgentDailyStats"
    assert snake_case("MyNiceGroup") == "my_nice_group"
    with pytest.raises(GroupNotFound, match="no attribute"):
        load_group_factory("examples.agent_daily_stats:Nope")
    with pytest.raises(GroupNotFound, match="entry points"):
        load_group_factory("not-registered-anywhere")


def test_loader_finds_a_group_registered_as_an_entry_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered = EntryPoints([EntryPoint("daily", GROUP, ENTRY_POINT_GROUP)])

    def fake_entry_points(*, group: str) -> EntryPoints:
        return registered if group == ENTRY_POINT_GROUP else EntryPoints([])

    monkeypatch.setattr(loader, "entry_points", fake_entry_points)
    name, factory = load_group_factory("daily")
    assert name == "daily" and factory.__name__ == "AgentDailyStats"
    assert loader.registered_groups() == {"daily": GROUP}


def test_options_are_key_value_pairs() -> None:
    assert parse_options(["url=sqlite:///x.db", "prefix=a_"]) == {
        "url": "sqlite:///x.db",
        "prefix": "a_",
    }
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_options(["url"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--group", GROUP, "--campaign", "c"], "KAFKA_BOOTSTRAP_SERVERS"),
        (["--group", "nowhere:Thing", "--campaign", "c", "--bootstrap-servers", "x:1"], "import"),
        (["--group", GROUP, "--campaign", "c", "--bootstrap-servers", "x:1"], "url"),
    ],
)
def test_bad_configuration_exits_1_with_one_line(args: list[str], message: str) -> None:
    proc = start(args)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert message in err and "Traceback" not in err


@pytest.mark.integration
@pytest.mark.slow
def test_the_service_runs_a_group_serves_health_and_stops_cleanly(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    db = tmp_path / "stats.db"
    port = free_port()
    with scratch_campaign(kafka_bootstrap, "agent_daily_stats") as campaign:
        events = sample_events(campaign)
        publish(kafka_bootstrap, events_topic(campaign), messages_of(events))
        proc = start(
            [
                "--group",
                GROUP,
                "--campaign",
                campaign,
                "--option",
                f"url=sqlite:///{db}",
                "--metrics-port",
                str(port),
                "--metrics-host",
                "127.0.0.1",
                "--log-json",
            ],
            kafka_bootstrap,
        )
        try:
            harness = AgentDailyStatsHarness(sa.create_engine(f"sqlite:///{db}"))
            wait_for(lambda: status_of(port, "/readyz") == 200, 60, message="never ready")
            wait_for(
                lambda: harness.snapshot() == harness.expected(events),
                60,
                message="the service did not materialise every event",
            )
            assert status_of(port, "/healthz") == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert '"message": "running custom group agent_daily_stats' in err
