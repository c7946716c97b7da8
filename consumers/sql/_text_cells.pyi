"""Type stub of the compiled text-cell joiner (consumers/sql/_text_cells.c)."""

from typing import Any

def copy_cells(values: dict[str, Any], fields: tuple[str, ...], /) -> str | None: ...
def mysql_cells(
    values: dict[str, Any], fields: tuple[str, ...], limits: tuple[int, ...], /
) -> str | None: ...
