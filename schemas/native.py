"""Pick the compiled twin of a pure-Python function when the install built it.

The project's two C extensions (`schemas/_avro_record.c`, `consumers/sql/_text_cells.c`) are
optional: `pip install` goes on without a C compiler, and the pure-Python twin, which has the
same contract and is what tests compare the compiled one against, does the job (slower).
"""

from __future__ import annotations

import importlib
from typing import TypeVar

F = TypeVar("F")


def compiled_or(module: str, name: str, fallback: F) -> F:
    """Return `module.name` if that extension module was built, else `fallback`."""
    try:
        compiled: F = getattr(importlib.import_module(module), name)
    except ImportError:
        return fallback
    return compiled
