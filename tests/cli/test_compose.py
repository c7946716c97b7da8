"""docker-compose.yml: valid against the Compose Specification (subset) and every command parses.

No Docker engine is needed: the file is parsed with PyYAML, validated with jsonschema against a
hand-written subset of the Compose Specification (tests/cli/data), interpolated with the values
of .env.example, and every dbsync2 command is parsed by the real argument parser it reaches.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from dbsync2.cli import resolve_subcommand
from tests.cli.cli_process import REPO_ROOT

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read docker-compose.yml")
jsonschema = pytest.importorskip("jsonschema", reason="jsonschema validates the compose file")

COMPOSE = REPO_ROOT / "docker-compose.yml"
SCHEMA = Path(__file__).parent / "data" / "compose-spec-subset.schema.json"
_VARIABLE = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def read_env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose-style interpolation: ${V}, ${V:-default}, ${V-default}, $V; `$$` is a literal $."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        operator, default = match.group(2), match.group(3) or ""
        value = env.get(name)
        if operator == ":-" and not value:
            return default
        if operator == "-" and value is None:
            return default
        return value or ""

    parts = text.split("$$")
    return "$".join(_VARIABLE.sub(replace, part) for part in parts)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    return node


def variables_used(text: str) -> set[str]:
    return {m.group(1) or m.group(4) for m in _VARIABLE.finditer(text.replace("$$", ""))}


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = interpolate_tree(raw_compose, read_env_example())
    return resolved


def test_compose_file_matches_the_specification_subset(raw_compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft202012Validator(schema).iter_errors(raw_compose)
    ]
    assert errors == []


def test_references_between_services_and_volumes_resolve(compose: dict[str, Any]) -> None:
    services = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        for target in service.get("depends_on") or {}:
            assert target in services, f"{name} depends on unknown service {target}"
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared_volumes, f"{name} mounts undeclared volume {source}"


def test_required_stack_and_profiles_are_present(compose: dict[str, Any]) -> None:
    services = compose["services"]
    default = {n for n, s in services.items() if not s.get("profiles")}
    assert {"kafka", "topics", "producer", "consume-sql", "consume-webhook", "postgres"} <= default
    assert services["kafka"]["image"].startswith("apache/kafka:4.1.")
    assert "kafka-data" in " ".join(services["kafka"]["volumes"])
    profiles = {p for s in services.values() for p in s.get("profiles") or []}
    assert {"mariadb", "sqlserver", "demo"} <= profiles
    demo = {n for n, s in services.items() if "demo" in (s.get("profiles") or [])}
    assert {"simulator", "demo-receiver"} <= demo


def test_every_variable_has_a_default_or_an_env_example_entry() -> None:
    text = COMPOSE.read_text()
    example = read_env_example()
    undocumented = {
        name
        for name in variables_used(text)
        if name not in example and not re.search(r"\$\{" + name + r":?-", text)
    }
    assert undocumented == set()
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()


def _service_env(service: Mapping[str, Any]) -> dict[str, str]:
    env = dict(read_env_example())
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    env.update({k: "" if v is None else str(v) for k, v in environment.items()})
    return env


def _parse_topics(argv: list[str], env: Mapping[str, str]) -> None:
    from dbsync2.topics_cmd import build_parser

    args = build_parser().parse_args(argv)
    assert args.campaign or env.get("DBSYNC_C"), "topics needs a campaign"


def _parse_producer(argv: list[str], env: Mapping[str, str]) -> None:
    from producer.cli_args import parse_settings

    parse_settings(argv, env)


def _parse_sql(argv: list[str], env: Mapping[str, str]) -> None:
    from consumers.sql.settings import parse_settings

    parse_settings(argv, env)


def _parse_webhook(argv: list[str], env: Mapping[str, str]) -> None:
    from consumers.webhook.config import parse_config

    parse_config(argv, env)


def _parse_simulate(argv: list[str], env: Mapping[str, str]) -> None:
    from simulator.__main__ import build_parser

    build_parser().parse_args(argv)


def _parse_health(argv: list[str], env: Mapping[str, str]) -> None:
    assert argv == [] or argv[0].startswith("--")


PARSERS: dict[tuple[str, ...], Callable[[list[str], Mapping[str, str]], None]] = {
    ("topics",): _parse_topics,
    ("producer",): _parse_producer,
    ("consume", "sql"): _parse_sql,
    ("consume", "webhook"): _parse_webhook,
    ("simulate",): _parse_simulate,
    ("health",): _parse_health,
}


def _dbsync2_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if s.get("image") == "dbsync2:local"}


def test_every_dbsync2_command_parses_with_the_real_parser(compose: dict[str, Any]) -> None:
    checked = []
    for name, service in _dbsync2_services(compose).items():
        env = _service_env(service)
        command = [str(word) for word in service.get("command") or []]
        entrypoint = service.get("entrypoint")
        if entrypoint == ["python", "-m", "ops.demo_receiver"]:
            from ops.demo_receiver import build_parser

            build_parser().parse_args(command)
            checked.append(name)
            continue
        assert entrypoint is None, f"{name}: unexpected entrypoint {entrypoint}"
        assert resolve_subcommand(command) is not None, f"{name}: {command} is no subcommand"
        key = tuple(command[:2]) if tuple(command[:2]) in PARSERS else tuple(command[:1])
        assert key in PARSERS, f"{name}: no parser check for {command[:2]}"
        PARSERS[key](command[len(key) :], env)
        checked.append(name)
    assert {"topics", "producer", "consume-sql", "consume-webhook", "simulator",
            "demo-receiver"} <= set(checked)  # fmt: skip


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+(?:\s+AS\s+(\S+))?", text, flags=re.MULTILINE)
    assert len(stages) >= 2
    assert re.search(r"^USER\s+(?!root)(?!0\b)\S+", text, flags=re.MULTILINE)
    assert re.search(r"^HEALTHCHECK\s", text, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["dbsync2"]' in text
