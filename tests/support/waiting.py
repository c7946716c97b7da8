"""Wait for a condition with a deadline instead of sleeping for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.05,
    message: str = "condition not met",
) -> T:
    """Call `predicate` until it returns something truthy and return that value.

    Raises AssertionError with `message` once `timeout` seconds have passed. Exceptions raised by
    the predicate propagate: catch them inside it if they mean "not yet".
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (waited {timeout:g} s)")
        time.sleep(interval)
