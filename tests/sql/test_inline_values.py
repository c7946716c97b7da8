"""Fast row rendering gives exactly what the per-value path gives.

- MariaDB/MySQL: inlined literals are PyMySQL's own rendering of the same converted values.
- PostgreSQL: COPY text per column equals the per-cell formatting of values.py + pg_batch.py.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from pymysql.converters import escape_item
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.mysql import pymysql as mysql_pymysql

from consumers.sql import mysql_batch, pg_batch
from consumers.sql.mysql_batch import (
    MySqlValuesUpsert,
    NoLiteralError,
    mysql_literal,
    number_literal,
)
from consumers.sql.pg_batch import PgCopyUpsert, _format_number, format_copy_value
from consumers.sql.rows import collect_rows
from consumers.sql.schema import SchemaManager
from consumers.sql.tables import CONTACTS, ColumnKind
from consumers.sql.values import TruncationCounter, build_converter, to_number, to_text
from schemas import CampaignId, ContactId, ContactSnapshot, EventId

VALUES: list[Any] = [
    *("", "a'b", 'c"d', "e\\f", "g\nh\r\0\x1a", "ü€😀", "%s %(x)s %%", "plain"),
    *(None, True, False, 0, -5, 2**70),
    *(Decimal("1.10"), Decimal("1E+20"), Decimal("-0"), Decimal("1e-9")),
]
HOSTILE: list[Any] = [
    *("a\tb", "c\nd", "e\\f", "g\rh", "", None, "\\N", "ü" * 300, "x" * 300),
    *(0, False, True, 0.0, 1.5, 1e300, float("nan"), 2**70, Decimal("2.50")),
    *([], {}, {"a": "\t"}, [1, "x\\"], "12.5", " 7 ", "abc"),
]


def test_mysql_literals_are_pymysqls() -> None:
    for value in VALUES:
        assert mysql_literal(value) == escape_item(value, "utf8mb4")
    for value in (Decimal("NaN"), Decimal("Infinity"), 1.5, [1]):
        with pytest.raises(NoLiteralError):
            mysql_literal(value)


def _contact_rows(count: int, seed: int) -> tuple[SchemaManager, Any]:
    """Rows of `count` contacts with hostile values in a few fields, and their layout."""
    rng = random.Random(seed)
    events = []
    for index in range(count):
        contact: dict[str, Any] = {
            "$status": "open",
            "$comment": "hello",
            "$phone": "+49",
            "$ref": "r" * 60,  # over a bounded column's length in some layouts
            "firstname": "Ann",
            "revenue": 12.5,
            "score": 3,
        }
        for key in list(contact)[: index % 8]:
            contact[key] = rng.choice(HOSTILE)
        events.append(_snapshot(index, contact))
    row_set = collect_rows(events)
    schema = SchemaManager(sa.create_engine("sqlite://"), "")
    schema.ensure_base()
    schema.ensure_custom_fields(row_set)
    # A legacy-style bounded column, so that long values are cut (and must be counted).
    fixed = schema.layouts["contact"].fixed
    fixed["$comment"] = dataclasses.replace(fixed["$comment"], max_length=3)
    return schema, row_set


def test_mysql_rows_render_like_pymysql() -> None:
    schema, row_set = _contact_rows(600, 5)
    layout = schema.layouts["contact"]
    dialect = mysql_pymysql.dialect()  # type: ignore[no-untyped-call]
    counter, reference = TruncationCounter({}), TruncationCounter({})

    def converter(info: Any, counter: TruncationCounter = counter) -> Any:
        return build_converter(info.kind, info.max_length, info.column, counter)

    upsert = MySqlValuesUpsert(layout, dialect, converter)
    by_key = {info.key: info for info in layout.columns()}
    assert sorted(upsert.keys) == sorted(by_key) and upsert.head.startswith("INSERT INTO")
    rows = [r for r in row_set.for_table(CONTACTS) if not _has_nan(r.values)]
    expected = []
    for row in rows:
        cells = []
        for key in upsert.keys:
            info = by_key[key]
            if info.kind is ColumnKind.VERSION:
                cells.append(str(row.version))
                continue
            convert = build_converter(info.kind, info.max_length, info.column, reference)
            cells.append(escape_item(convert(row.values.get(info.field)), "utf8mb4"))
        expected.append("(" + ",".join(cells) + ")")
    assert upsert.render(rows) == upsert.pack(expected)
    cuts = counter.take()
    assert cuts and cuts == reference.take()  # the long "$ref" values were cut and noted
    nan_rows = [r for r in row_set.for_table(CONTACTS) if _has_nan(r.values)]
    assert nan_rows
    with pytest.raises(NoLiteralError):
        upsert.render(nan_rows[:1])


def _has_nan(values: dict[str, Any]) -> bool:
    """A NaN in a number column: it has no MySQL literal (text columns store 'nan')."""
    numbers = (values.get("revenue"), values.get("score"))
    return any(isinstance(v, float) and v != v for v in numbers)


def test_mysql_number_fast_path_is_pymysqls_decimal_text() -> None:
    rng = random.Random(9)
    numbers = [rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-20, 20) for _ in range(20000)]
    for value in [*VALUES, *HOSTILE, *numbers, -0.0, 1e16, 5e-324, 2**80]:
        try:
            expected = mysql_literal(to_number(value))
        except NoLiteralError:
            with pytest.raises(NoLiteralError):
                number_literal(value)
            continue
        assert number_literal(value) == expected, value


def test_compiled_mysql_cells_agree_with_python() -> None:
    assert mysql_batch.mysql_cells is not mysql_batch.mysql_cells_py  # built by .ci/run
    rng = random.Random(13)
    plain: list[Any] = ["a", "Müller 😀", "", None, 0, -7, 2**70, "x" * 30]
    pool = [*plain, *HOSTILE, *VALUES, "it's", 'say "hi"', "nul\0", "\x1a"]
    fields = tuple(f"f{i}" for i in range(10))
    outcomes = set()
    for _ in range(5000):
        values = {f: rng.choice(plain if rng.random() < 0.7 else pool) for f in fields}
        for missing in rng.sample(fields, rng.randint(0, 2)):
            del values[missing]
        limits = tuple(rng.choice((-1, 255, 20, 5)) for _ in fields)
        compiled = mysql_batch.mysql_cells(values, fields, limits)
        assert compiled == mysql_batch.mysql_cells_py(values, fields, limits), values
        if compiled is not None:
            converted = [to_text(values.get(f)) for f in fields]
            assert compiled == ",".join(escape_item(v, "utf8mb4") for v in converted)
        outcomes.add(compiled is None)
    assert outcomes == {True, False}


def test_number_fast_path_is_the_decimal_text() -> None:
    rng = random.Random(7)
    numbers = [rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-20, 20) for _ in range(20000)]
    for value in [*HOSTILE, *numbers, -0.0, 1e16, 5e-324, float("inf"), 2**80]:
        assert _format_number(value) == format_copy_value(to_number(value)), value


def _snapshot(index: int, contact: dict[str, Any]) -> ContactSnapshot:
    return ContactSnapshot(
        event_id=EventId(f"e{index}"),
        campaign_id=CampaignId("C"),
        contact_id=ContactId(f"c{index}"),
        version=index + 1,
        observed_at=datetime(2026, 1, 1, tzinfo=UTC),
        contact=contact,
    )


def test_copy_text_matches_per_cell_formatting() -> None:
    schema, row_set = _contact_rows(600, 3)
    layout = schema.layouts["contact"]
    counter = TruncationCounter({})
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    upsert = PgCopyUpsert(layout, dialect, counter)
    rows = row_set.for_table(CONTACTS)
    quoted = upsert.copy.split("(", 1)[1].split(") FROM", 1)[0].split(", ")
    quote = dialect.identifier_preparer.quote
    by_name = {quote(info.column).replace("%%", "%"): info for info in layout.columns()}
    reference = TruncationCounter({})
    lines = upsert.format_rows(rows).split("\n")
    assert lines[-1] == "" and len(lines) == len(rows) + 1
    for row, line in zip(rows, lines, strict=False):
        cells = line.split("\t")
        assert len(cells) == len(quoted)
        for name, cell in zip(quoted, cells, strict=True):
            info = by_name[name]
            if info.kind is ColumnKind.VERSION:
                assert cell == str(row.version)
                continue
            convert = build_converter(info.kind, info.max_length, info.column, reference)
            assert cell == format_copy_value(convert(row.values.get(info.field)))
    cuts = counter.take()
    assert cuts and cuts == reference.take()  # the long "$ref" values were cut and noted


def test_compiled_copy_joiner_is_built_and_agrees_with_python() -> None:
    # .ci/run installs gcc and the Python headers; without them the Python twin is used.
    assert pg_batch.COMPILED
    rng = random.Random(11)
    plain: list[Any] = ["a", "Müller 😀", "", None, 0, -7, 2**70, "x" * 300]
    pool = [*plain, *HOSTILE, "\\N", "a\\b", "tab\t", "line\n", "cr\r", 1.5, Decimal("1")]
    fields = tuple(f"f{i}" for i in range(12))
    outcomes = set()
    for _ in range(5000):
        values = {f: rng.choice(plain if rng.random() < 0.7 else pool) for f in fields}
        for missing in rng.sample(fields, rng.randint(0, 2)):
            del values[missing]
        compiled = pg_batch.copy_cells(values, fields)
        assert compiled == pg_batch.copy_cells_py(values, fields), values
        outcomes.add(compiled is None)
    assert outcomes == {True, False}  # both the joined line and the per-cell fallback were hit
    assert pg_batch.copy_cells({"a": "x", "b": 5}, ("a", "b", "c")) == "x\t5\t\\N"
