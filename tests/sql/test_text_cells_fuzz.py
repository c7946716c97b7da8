"""Seeded fuzzing of the compiled text-cell joiner against its pure-Python twins (seconds).

`consumers.sql._text_cells` vs `copy_cells_py` / `mysql_cells_py`: random rows of many value
types (str and int subclasses, bool, float, Decimal, huge ints, every control character,
non-BMP characters, lone surrogates) and the exact escape sets of both formats.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal
from typing import Any

from consumers.sql import mysql_batch, pg_batch


def _outcome(joiner: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", joiner(*args)
    except Exception:  # either twin may raise anything; the callers fall back on all of them
        return "error", None


class _Text(str):
    __slots__ = ()


class _Int(int):
    pass


CONTROL = [chr(c) for c in range(0x21)] + ["\x7f", "\\", "'", '"', "\x1a", "\u2028", "😀"]
CONTROL += ["\ud800", "\udfff", "\U0010ffff", "ü", "€"]
ODD_VALUES: list[Any] = [True, False, 1.5, math.nan, Decimal("1"), Decimal("NaN"), _Text("x")]
ODD_VALUES += [_Int(3), _Int(0), [], {}, b"x", (), 0j, 2**63, -(2**70), 10**50]


def _cell(rng: random.Random) -> Any:
    r = rng.random()
    if r < 0.4:
        size = rng.choice([0, 1, 2, 3, 8, 40])
        return "".join(rng.choice([*CONTROL, *"abcXYZ09 "]) for _ in range(size))
    if r < 0.5:
        return rng.choice(["", None])
    if r < 0.65:
        return rng.choice([0, -1, 7, rng.randint(-(10**6), 10**6)])
    return rng.choice(ODD_VALUES)


def test_text_cells_match_their_python_twins() -> None:
    rng = random.Random(11)
    seen = set()
    for _ in range(30000):
        count = rng.choice([1, 2, 3, 5, 10])
        names = [f"f{i}" for i in range(count)]
        fields = tuple(_Text(n) if rng.random() < 0.2 else n for n in names)
        values = {n: _cell(rng) for n in names if rng.random() < 0.9}
        copy = _outcome(pg_batch.copy_cells, values, fields)
        assert copy == _outcome(pg_batch.copy_cells_py, values, fields), (values, fields)
        limits = tuple(rng.choice([-1, -7, 0, 1, 2, 5, 255]) for _ in fields)
        mysql = _outcome(mysql_batch.mysql_cells, values, fields, limits)
        assert mysql == _outcome(mysql_batch.mysql_cells_py, values, fields, limits), values
        seen.add((copy[0], copy[1] is None, mysql[0], mysql[1] is None))
    assert {("ok", False, "ok", False), ("ok", True, "ok", True)} <= seen


def test_text_cells_escape_exactly_their_formats_characters() -> None:
    copy_set = {chr(c) for c in pg_batch._COPY_ESCAPES}
    mysql_set = {chr(c) for c in mysql_batch._MYSQL_ESCAPES}
    assert copy_set == {"\\", "\t", "\n", "\r"}
    assert mysql_set == {"\0", "\\", "\n", "\r", "\x1a", "'", '"'}
    for code in [*range(0x200), 0x2028, 0xD800, 0xDFFF, 0xFEFF, 0x1F600, 0x10FFFF]:
        char = chr(code)
        for text in (char, "a" + char, char + "😀" * 3):
            copy = pg_batch.copy_cells({"a": text}, ("a",))
            assert copy == pg_batch.copy_cells_py({"a": text}, ("a",))
            assert (copy is None) == (char in copy_set), hex(code)
            mysql = mysql_batch.mysql_cells({"a": text}, ("a",), (-1,))
            assert mysql == mysql_batch.mysql_cells_py({"a": text}, ("a",), (-1,))
            assert (mysql is None) == (char in mysql_set), hex(code)
            if mysql is not None:
                assert mysql == "'" + text + "'"


def test_text_cells_limits_count_characters_not_bytes() -> None:
    for text in ("ab", "üö", "😀😀", "\ud800x"):
        for limit, fits in ((1, False), (2, True), (-1, True), (0, False)):
            row = ({"a": text}, ("a",), (limit,))
            assert (mysql_batch.mysql_cells(*row) is not None) == fits
            assert mysql_batch.mysql_cells(*row) == mysql_batch.mysql_cells_py(*row)


def test_empty_str_subclass_is_rendered_alike() -> None:
    row = ({"a": _Text("")}, ("a",), (-1,))
    assert mysql_batch.mysql_cells(*row) == mysql_batch.mysql_cells_py(*row)


def test_copy_cells_of_no_fields_agree() -> None:
    assert pg_batch.copy_cells({}, ()) == pg_batch.copy_cells_py({}, ())
