"""Convert attribute values to what a column of a given kind stores, counting truncations.

- text columns: strings as they are, numbers as decimal text, booleans as "1"/"0" (dbsync2's
  toDBString), objects and arrays as compact JSON; the empty string becomes NULL as in dbsync2.
- number columns: ints, floats and numeric strings become exact Decimals; anything else is passed
  through unchanged so that the database rejects it and the event is dead-lettered.
- bool columns: booleans, 0/1 and "true"/"false"/"1"/"0"; anything else is passed through.
- bounded columns (existing legacy varchar(50) or our varchar(255) keys) cut longer strings to the
  column length; every cut is counted and logged by the writer, never silent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from consumers.sql.tables import ColumnKind

_TRUE = frozenset({"true", "1", "t", "yes"})
_FALSE = frozenset({"false", "0", "f", "no"})


@dataclass
class TruncationCounter:
    """Counts values cut to a column's length, per column, once the rows are committed.

    Rows are rendered (values converted and cut) on the consumer loop's thread or the writer's,
    sometimes more than once: a batch re-rendered for a new layout, a bisection trial, a
    fallback path. So a cut is first noted for the rendering thread (`record`); the writer
    takes a rendering's cuts (`take`) and adds them to `counts` only after its commit
    (`commit`). A rendering thrown away is never counted.
    """

    counts: dict[str, int]
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    def pending(self) -> dict[str, int]:
        """Return this thread's cuts not yet taken (a live dict)."""
        pending: dict[str, int] | None = getattr(self._local, "pending", None)
        if pending is None:
            pending = self._local.pending = {}
        return pending

    def record(self, column: str) -> None:
        """Note one value of `column` cut by this thread's rendering."""
        pending = self.pending()
        pending[column] = pending.get(column, 0) + 1

    def take(self) -> dict[str, int]:
        """Return this thread's noted cuts and forget them."""
        pending = self.pending()
        self._local.pending = {}
        return pending

    def restore(self, pending: Mapping[str, int]) -> None:
        """Reset this thread's noted cuts to an earlier `dict(pending())` (a discarded attempt)."""
        self._local.pending = dict(pending)

    def commit(self, cuts: Mapping[str, int]) -> None:
        """Count the cuts of committed rows."""
        for column, count in cuts.items():
            self.counts[column] = self.counts.get(column, 0) + count


def to_text(value: Any) -> str | None:
    """Return dbsync2's text form of a value (None and '' become NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def to_number(value: Any) -> Any:
    """Return an exact Decimal for numeric input; pass anything else through for the DB."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return value
        return number if number.is_finite() else value
    return to_text(value)


def to_bool(value: Any) -> Any:
    """Return a bool for boolean-ish input; pass anything else through for the DB."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        folded = value.strip().lower()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        if folded == "":
            return None
    return to_text(value)


def convert_value(
    value: Any,
    kind: ColumnKind,
    max_length: int | None,
    column: str,
    counter: TruncationCounter,
) -> Any:
    """Return `value` converted for a column of `kind`; cut strings over `max_length`."""
    if kind is ColumnKind.NUMBER:
        return to_number(value)
    if kind is ColumnKind.BOOL:
        return to_bool(value)
    if kind is ColumnKind.VERSION:
        return value
    text = to_text(value)
    if text is not None and max_length is not None and len(text) > max_length:
        counter.record(column)
        return text[:max_length]
    return text


def infer_kind(value: Any) -> ColumnKind | None:
    """Return the column kind for a new custom field from its first non-null value."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return ColumnKind.NUMBER
    return ColumnKind.TEXT


def build_converter(
    kind: ColumnKind, max_length: int | None, column: str, counter: TruncationCounter
) -> Callable[[Any], Any]:
    """Return a one-argument converter for a column: `convert_value` with fast paths."""
    if kind is ColumnKind.NUMBER:
        return to_number
    if kind is ColumnKind.BOOL:
        return to_bool
    if kind is ColumnKind.VERSION:
        return _identity
    if max_length is None:

        def convert_text(value: Any) -> Any:
            if value.__class__ is str:
                return value or None
            return to_text(value)

        return convert_text

    limit = max_length

    def convert_bounded(value: Any) -> Any:
        text = (value or None) if value.__class__ is str else to_text(value)
        if text is not None and len(text) > limit:
            counter.record(column)
            return text[:limit]
        return text

    return convert_bounded


def _identity(value: Any) -> Any:
    return value
