"""Type stub of the compiled record reader (schemas/_avro_record.c)."""

from collections.abc import Callable
from typing import Any

class RecordError(ValueError): ...

def read_record(
    data: bytes, pos: int, layout: str, json_loads: Callable[[str], Any], /
) -> tuple[Any, ...]: ...
