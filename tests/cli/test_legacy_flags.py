"""The legacy flag contract in-process: spellings, environment variables, precedence, defaults."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dbsync2.legacy_config import build_settings
from dbsync2.legacy_flags import FLAGS, UsageError

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PG = "postgres://u:secret@127.0.0.1:5432/db"
BASE = ["--c", "CAMP", "--ct", "tok", "--url", PG]


def settings_for(argv: list[str], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return build_settings(argv, env or {}, now=NOW)


@pytest.mark.parametrize(
    "spelling",
    [
        ["--a", "db_init"],
        ["--a=db_init"],
        ["-a", "db_init"],
        ["-a=db_init"],
    ],
)
def test_every_spelling_of_a_flag_sets_it(spelling: list[str]) -> None:
    assert settings_for([*spelling, *BASE]).mode == "db_init"


def test_single_dash_v1_flags_set_every_value() -> None:
    argv = ["-a", "db_sync", "-c", "X", "-ct", "T", "-url", PG, "-s", "2018-02-01",
            "-fm", "hi_updates_only", "-fp", "fc_,qc_", "-w", "3", "-d", "4",
            "-tp", "df_"]  # fmt: skip
    settings = settings_for(argv)
    assert (settings.campaign_id, settings.token, settings.start) == ("X", "T", "2018-02-01")
    assert settings.filter_mode == "hi_updates_only"
    assert settings.task_prefixes == ("fc_", "qc_")
    assert (settings.workers, settings.db_connections, settings.table_prefix) == (3, 4, "df_")


def test_environment_variables_configure_a_run() -> None:
    env = {"DBSYNC_A": "db_sync", "DBSYNC_C": "ENVC", "DBSYNC_CT": "envtok", "DBSYNC_URL": PG,
           "DBSYNC_TP": "p_", "DBSYNC_W": "7", "DBSYNC_V": "true"}  # fmt: skip
    settings = settings_for([], env)
    assert (settings.mode, settings.campaign_id, settings.token) == ("db_sync", "ENVC", "envtok")
    assert (settings.table_prefix, settings.workers, settings.verbose) == ("p_", 7, True)
    assert settings.log_level == "DEBUG"


def test_flags_beat_environment_variables() -> None:
    env = {"DBSYNC_A": "webhook", "DBSYNC_C": "ENVC", "DBSYNC_CT": "envtok", "DBSYNC_TP": "env_"}
    settings = settings_for(["--a", "db_init", "--c", "FLAGC", "--tp=flag_", "--url", PG], env)
    assert (settings.mode, settings.campaign_id, settings.table_prefix) == (
        "db_init",
        "FLAGC",
        "flag_",
    )
    assert settings.token == "envtok"


def test_token_file_from_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    env = {"DBSYNC_CT_FILE": str(token_file)}
    settings = settings_for(["--a", "db_init", "--c", "C", "--url", PG], env)
    assert settings.token == "from-file"


def test_token_flag_beats_token_file_and_token_env_beats_file_env(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file")
    argv = ["--a", "db_init", "--c", "C", "--url", PG]
    env = {"DBSYNC_CT_FILE": str(token_file), "DBSYNC_CT": "from-env"}
    assert settings_for(argv, env).token == "from-env"
    assert settings_for([*argv, "--ct", "from-flag"], env).token == "from-flag"
    assert settings_for([*argv, "--ct-file", str(token_file)], env).token == "from-file"


def test_unreadable_token_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="Cannot read the campaign token file"):
        settings_for(["--a", "db_init", "--c", "C", "--url", PG, "--ct-file", str(tmp_path / "x")])


def test_db_update_defaults_to_seven_days_back_and_db_init_to_everything() -> None:
    assert settings_for(["--a", "db_update", *BASE]).start == "2026-11-21"
    assert settings_for(["--a", "db_init", *BASE]).start is None
    assert settings_for(["--a", "db_update", "--s", "2018-02-01", *BASE]).start == "2018-02-01"


def test_defaults_match_the_original() -> None:
    settings = settings_for(["--a", "webhook", "--c", "C", "--ct", "T", "--url", "https://x.test/"])
    assert (settings.workers, settings.db_connections) == (32, 32)
    assert (settings.webhook_rate, settings.webhook_burst) == (5, 10)
    assert settings.log_level == "INFO"
    assert settings.kafka_bootstrap == "127.0.0.1:9092"


def test_kafka_bootstrap_comes_from_the_standard_variable() -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": "10.0.0.1:9092"}
    assert settings_for(["--a", "db_init", *BASE], env).kafka_bootstrap == "10.0.0.1:9092"
    argv = ["--a", "db_init", *BASE, "--kafka", "k:1"]
    assert settings_for(argv, env).kafka_bootstrap == "k:1"


def test_unknown_filter_mode_is_ignored_with_a_warning() -> None:
    settings = settings_for(["--a", "db_init", "--fm", "everything", *BASE])
    assert settings.filter_mode is None
    assert settings.warnings == ("ignoring unknown filter mode --fm 'everything'",)


def test_profiling_flag_is_accepted_and_ignored_with_a_warning() -> None:
    settings = settings_for(["--a", "db_init", "--p", *BASE])
    assert settings.profiling is True
    assert settings.warnings == ("--p (the Go pprof server) is accepted and ignored",)


def test_token_and_url_never_appear_in_repr() -> None:
    text = repr(settings_for(["--a", "db_init", *BASE]))
    assert "secret" not in text
    assert "tok" not in text.replace("token", "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--a", "db_init", "--ct", "T", "--url", PG], "Campaign ID (--c) is required"),
        (["--a", "db_init", "--c", "C", "--url", PG], "Campaign token (--ct) is required"),
        (["--a", "db_copy", "--c", "C", "--ct", "T", "--url", PG], "Invalid mode: db_copy"),
        (["--c", "C", "--ct", "T", "--url", PG], "Invalid mode: "),
        (["--a", "db_init", "--c", "C", "--ct", "T"], "Database URL (--url) is required"),
        (["--a", "db_init", "--c", "C", "--ct", "T", "--url", "nocolon"],
         "Invalid database URL 'nocolon': expected <driver>://..."),
        (["--a", "db_init", "--c", "C", "--ct", "T", "--url", "oracle://u:p@h/db"],
         "Invalid database driver 'oracle'"),
        (["--a", "db_init", "--c", "C", "--ct", "T", "--url", "postgres://u:p@h:5432/"],
         "Database name is required"),
        (["--a", "webhook", "--c", "C", "--ct", "T"], "Webhook URL (--url) is required"),
        (["--a", "webhook", "--c", "C", "--ct", "T", "--url", "ftp://h/x"],
         "Invalid webhook URL 'ftp://h/x': expected http(s)://host/..."),
        (["--a", "db_init", *BASE, "--w", "many"],
         "Invalid value for --w: 'many' (expected an integer)"),
        (["--a", "db_init", *BASE, "--s", "yesterday"],
         "Invalid start date (--s): 'yesterday'; use 2018-02-01[T15:04:05]"),
        (["--a", "db_init", *BASE, "--bogus", "1"], "Unknown flag: --bogus (see dbsync2 --help)"),
        (["--a", "db_init", *BASE, "--c"], "Flag --c needs a value"),
    ],
)  # fmt: skip
def test_invalid_invocations_name_the_problem(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        settings_for(argv)
    assert str(raised.value) == message


def test_every_original_flag_exists() -> None:
    names = {spec.name for spec in FLAGS}
    original = {"c", "ct", "a", "url", "s", "fm", "fp", "w", "d", "tp", "l", "v", "p", "wr", "wb"}
    assert original <= names


def test_every_registered_subcommand_imports_and_has_help_text() -> None:
    from dbsync2.cli import SUBCOMMANDS, is_subcommand_word, load_entry_point
    from dbsync2.help_text import render_help

    text = render_help([" ".join(key) for key in SUBCOMMANDS])
    for key, target in SUBCOMMANDS.items():
        assert callable(load_entry_point(target)), target
        assert is_subcommand_word(key[0])
        line = next(
            line for line in text.splitlines() if line.startswith(f"  dbsync2 {' '.join(key)} ")
        )
        assert len(line.split(None, len(key) + 1)) == len(key) + 2, f"no help text for {key}"
    assert not is_subcommand_word("--a")
