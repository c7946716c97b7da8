"""Find a custom group's factory: `module:Class` or a `dbsync2.consumer_groups` entry point name.

A factory is any callable taking a GroupContext and returning a ConsumerGroup (usually the
group's class). Nothing is imported until a group is asked for by name.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from consumers.runtime.group import ConsumerGroup, GroupContext

ENTRY_POINT_GROUP = "dbsync2.consumer_groups"

GroupFactory = Callable[[GroupContext], ConsumerGroup]


class GroupNotFound(Exception):
    """The named group is neither an importable `module:Class` nor a registered entry point."""


def registered_groups() -> dict[str, str]:
    """Return the installed entry points: name -> "module:attr"."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_group_factory(target: str) -> tuple[str, GroupFactory]:
    """Return (default group name, factory) for `module:Class` or an entry point name."""
    if ":" in target:
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise GroupNotFound(f"cannot import {module_name!r}: {exc}") from exc
        factory: Any = module
        for part in attr.split("."):
            factory = getattr(factory, part, None)
            if factory is None:
                raise GroupNotFound(f"{module_name!r} has no attribute {attr!r}")
        name = getattr(factory, "group_name", None) or snake_case(attr.split(".")[-1])
        return str(name), _checked(factory, target)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == target:
            return target, _checked(ep.load(), target)
    known = ", ".join(sorted(registered_groups())) or "none installed"
    raise GroupNotFound(
        f"no consumer group {target!r}: use module:Class or one of the entry points ({known})"
    )


def _checked(factory: Any, target: str) -> GroupFactory:
    if not callable(factory):
        raise GroupNotFound(f"{target!r} is not callable")
    result: GroupFactory = factory
    return result


def snake_case(name: str) -> str:
    """Return `AgentDailyStats` as `agent_daily_stats` (a group's default name)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
