"""Fast row rendering gives exactly what the per-value path gives.

- MariaDB/MySQL: inlined literals are PyMySQL's own rendering of the same converted values.
- PostgreSQL: COPY text per column equals the per-cell formatting of values.py + pg_batch.py.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from pymysql.converters import escape_item
from sqlalchemy.dialects import postgresql

from consumers.sql.pg_batch import PgCopyUpsert, _format_number, format_copy_value
from consumers.sql.rows import collect_rows
from consumers.sql.schema import SchemaManager
from consumers.sql.tables import CONTACTS, ColumnKind
from consumers.sql.upsert import MySqlValuesUpsert, NoLiteralError, mysql_literal
from consumers.sql.values import TruncationCounter, build_converter, to_number
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


def test_mysql_rows_render_like_pymysql() -> None:
    inline = MySqlValuesUpsert.__new__(MySqlValuesUpsert)
    inline.head, inline.tail, inline.keys = "H ", " T", []
    rng = random.Random(5)
    for _ in range(3000):
        row = [rng.choice(VALUES) for _ in range(rng.randint(1, 8))]
        expected = "H (" + ",".join(escape_item(v, "utf8mb4") for v in row) + ") T"
        assert inline.statements([row]) == [expected]


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
    rng = random.Random(3)
    events = []
    for index in range(600):
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
    assert counter.counts == reference.counts
