"""Read the dbsync2 v1.15 command line (flags, DBSYNC_* environment variables) into raw values.

Accepted spellings: `--c X`, `--c=X`, the v1 single-dash `-c X` / `-c=X`. Every flag can also be
set as `DBSYNC_<FLAG>` in upper case (`DBSYNC_URL`, `DBSYNC_CT_FILE`); an explicit flag beats the
environment, which beats the default. Validation of the values happens in `legacy_config`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class UsageError(Exception):
    """The command line or environment is invalid; the message is shown as is, one line."""


@dataclass(frozen=True)
class FlagSpec:
    """One legacy flag: its name, whether it takes a value, its default and its help line."""

    name: str
    help: str
    default: str = ""
    is_bool: bool = False
    extra_env: tuple[str, ...] = ()

    @property
    def env_names(self) -> tuple[str, ...]:
        """Environment variables that set this flag, in order of preference."""
        return ("DBSYNC_" + self.name.upper().replace("-", "_"), *self.extra_env)


# The original's flags in its help order, then the few this rebuild adds (marked "new").
FLAGS: tuple[FlagSpec, ...] = (
    FlagSpec("a", "Execution mode: webhook | db_init | db_update | db_sync"),
    FlagSpec("c", "Campaign ID (required)"),
    FlagSpec("ct", "Sync Client token of the campaign (required; see also --ct-file)"),
    FlagSpec("url", "Webhook URL (mode webhook) or database URL (db modes, see above)"),
    FlagSpec("s", "Start date 2006-01-02 or 2006-01-02T15:04:05 (UTC)"),
    FlagSpec("fm", "Filter mode: updates_only | hi_updates_only"),
    FlagSpec("fp", "Comma-separated task name prefixes, e.g. 'fc_,qc_'"),
    FlagSpec("tp", "Prefix for the SQL table names"),
    FlagSpec("w", "Number of workers (webhook deliveries in flight)", default="32"),
    FlagSpec("d", "Number of database connections", default="32"),
    FlagSpec("l", "Log level 0 CRITICAL 1 ERROR 2 WARNING 3 NOTICE 4 INFO 5 DEBUG", default="4"),
    FlagSpec("v", "Log to stdout instead of a file, at DEBUG level", is_bool=True),
    FlagSpec("p", "Accepted for compatibility and ignored (the Go pprof server)", is_bool=True),
    FlagSpec("wr", "Webhook rate limit in requests per second (<=0 means 5)", default="5"),
    FlagSpec("wb", "Webhook burst (<=0 means 2*wr)", default="0"),
    FlagSpec("ct-file", "new: read the campaign token from this file instead of --ct"),
    FlagSpec(
        "kafka",
        "new: Kafka bootstrap servers",
        default="127.0.0.1:9092",
        extra_env=("KAFKA_BOOTSTRAP_SERVERS",),
    ),
    FlagSpec("kafka-timeout", "new: seconds to wait for Kafka before giving up", default="15"),
    FlagSpec(
        "api-url",
        "new: Dialfire API base URL",
        default="https://api.dialfire.com",
        extra_env=("DIALFIRE_API_URL",),
    ),
    FlagSpec(
        "poll-interval", "new: seconds between Dialfire polls in db_sync/webhook", default="60"
    ),
    FlagSpec("state-dir", "new: where the producer keeps its checkpoint and fingerprints"),
    FlagSpec("log-dir", "new: log file directory (default /var/log/dbsync2, else ~/.dbsync2/log)"),
)
FLAGS_BY_NAME: dict[str, FlagSpec] = {spec.name: spec for spec in FLAGS}
HELP_WORDS = frozenset({"-h", "--help", "-help", "--h", "help"})
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off", ""})


def wants_help(argv: Sequence[str]) -> bool:
    """Return True when the command line asks for the help text."""
    return any(arg in HELP_WORDS for arg in argv)


def parse_bool(name: str, text: str) -> bool:
    """Return the truth value of a boolean flag or environment variable."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise UsageError(f"Invalid value for --{name}: {text!r} (expected true or false)")


def _split_flag(arg: str) -> tuple[str, str | None] | None:
    """Return (name, inline value) for `--x`, `--x=v`, `-x`, `-x=v`; None for a plain word."""
    if arg.startswith("--"):
        body = arg[2:]
    elif arg.startswith("-") and len(arg) > 1:
        body = arg[1:]
    else:
        return None
    name, sep, value = body.partition("=")
    return name, (value if sep else None)


def parse_flags(argv: Sequence[str]) -> dict[str, str]:
    """Return the flags given on the command line, by name, as raw strings."""
    given: dict[str, str] = {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        split = _split_flag(arg)
        if split is None:
            raise UsageError(f"Unexpected argument: {arg!r} (flags look like --c MY_CAMPAIGN)")
        name, inline = split
        spec = FLAGS_BY_NAME.get(name)
        if spec is None:
            raise UsageError(f"Unknown flag: --{name} (see dbsync2 --help)")
        if spec.is_bool:
            given[name] = "true" if inline is None else str(parse_bool(name, inline)).lower()
            continue
        if inline is None:
            if index >= len(argv):
                raise UsageError(f"Flag --{name} needs a value")
            inline = argv[index]
            index += 1
        given[name] = inline
    return given


def resolve_values(
    argv: Sequence[str], environ: Mapping[str, str]
) -> tuple[dict[str, str], frozenset[str]]:
    """Return every flag's value (command line, else environment, else default) and the names
    given on the command line."""
    given = parse_flags(argv)
    values: dict[str, str] = {}
    for spec in FLAGS:
        if spec.name in given:
            values[spec.name] = given[spec.name]
            continue
        from_env = next((environ[n] for n in spec.env_names if environ.get(n)), None)
        values[spec.name] = spec.default if from_env is None else from_env
    return values, frozenset(given)
