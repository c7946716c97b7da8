"""Dispatch `dbsync2 <subcommand>` to the service or tool that implements it (composition roots)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

# subcommand words -> "module:function" taking argv (the remaining words) and returning an exit code.
# Modules are imported only when their subcommand runs, so `--help` stays fast and no service
# connects to anything at import time.
SUBCOMMANDS: dict[tuple[str, ...], str] = {
    ("producer",): "producer.service:main",
    ("simulate",): "simulator.__main__:main",
    ("consume", "sql"): "consumers.sql.service:main",
    ("consume", "webhook"): "consumers.webhook.service:main",
    ("dlq",): "consumers.webhook.dlq_tool:main",
    ("kafka",): "ops.kafka.__main__:main",
}


def resolve_subcommand(argv: Sequence[str]) -> tuple[Callable[[list[str]], int], list[str]] | None:
    """Return the entry point for the longest matching subcommand prefix, and the rest of argv."""
    for length in (2, 1):
        words = tuple(argv[:length])
        target = SUBCOMMANDS.get(words)
        if target is not None:
            module_name, func_name = target.split(":")
            func: Callable[[list[str]], int] = getattr(
                importlib.import_module(module_name), func_name
            )
            return func, list(argv[length:])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the dbsync2 command line and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    found = resolve_subcommand(args)
    if found is None:
        names = ", ".join(" ".join(k) for k in SUBCOMMANDS)
        print(f"dbsync2: unknown command {' '.join(args[:2])!r}; commands: {names}", file=sys.stderr)
        return 1
    func, rest = found
    return func(rest)


if __name__ == "__main__":
    raise SystemExit(main())
