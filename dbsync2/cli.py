"""Dispatch `dbsync2 <subcommand>` to its service or tool, and anything else to the legacy CLI."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence

# subcommand words -> "module:function" taking argv (the remaining words), returning an exit code.
# Modules are imported only when their subcommand runs, so `--help` stays fast and no service
# connects to anything at import time.
SUBCOMMANDS: dict[tuple[str, ...], str] = {
    ("producer",): "producer.service:main",
    ("simulate",): "simulator.__main__:main",
    ("consume", "sql"): "consumers.sql.service:main",
    ("consume", "webhook"): "consumers.webhook.service:main",
    ("consume", "custom"): "consumers.custom.service:main",
    ("dlq",): "consumers.webhook.dlq_tool:main",
    ("kafka",): "ops.kafka.__main__:main",
    ("topics",): "dbsync2.topics_cmd:main",
    ("health",): "dbsync2.health_cmd:main",
    ("replay",): "ops.replay:main",
    ("status",): "ops.status:main",
    ("resync", "sql"): "ops.resync:main",
}


def load_entry_point(target: str) -> Callable[[list[str]], int]:
    """Import "module:function" and return the function."""
    module_name, func_name = target.split(":")
    func: Callable[[list[str]], int] = getattr(importlib.import_module(module_name), func_name)
    return func


def resolve_subcommand(argv: Sequence[str]) -> tuple[Callable[[list[str]], int], list[str]] | None:
    """Return the entry point for the longest matching subcommand prefix, and the rest of argv."""
    for length in (2, 1):
        target = SUBCOMMANDS.get(tuple(argv[:length]))
        if target is not None:
            return load_entry_point(target), list(argv[length:])
    return None


def is_subcommand_word(word: str) -> bool:
    """Return True when `word` starts a subcommand (so it is not a legacy flag run)."""
    return any(key[0] == word for key in SUBCOMMANDS)


def subcommand_names() -> list[str]:
    """Return every subcommand as the words a user types."""
    return [" ".join(key) for key in SUBCOMMANDS]


def run_legacy(argv: list[str]) -> int:
    """Run the dbsync2 v1.15 flag interface (`--a MODE --c ID --ct TOKEN --url URL ...`)."""
    from dbsync2.help_text import render_help
    from dbsync2.legacy_config import build_settings
    from dbsync2.legacy_flags import UsageError, wants_help

    if wants_help(argv):
        sys.stdout.write(render_help(subcommand_names()))
        return 0
    try:
        settings = build_settings(argv, os.environ)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    from dbsync2.legacy_run import run_settings

    return run_settings(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the dbsync2 command line and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and is_subcommand_word(args[0]):
        found = resolve_subcommand(args)
        if found is None:
            names = ", ".join(subcommand_names())
            print(
                f"dbsync2: unknown command {' '.join(args[:2])!r}; commands: {names}",
                file=sys.stderr,
            )
            return 1
        func, rest = found
        return func(rest)
    return run_legacy(args)


if __name__ == "__main__":
    raise SystemExit(main())
