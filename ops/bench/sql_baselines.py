"""Reference writers for the SQL benchmark: dbsync2's per-row upserts and PostgreSQL COPY.

Each takes the same contact snapshots the materializer consumes, converts them with the
materializer's own row derivation (not timed) and times only the database writes.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from consumers.sql.engine import build_engine
from consumers.sql.rows import collect_rows
from consumers.sql.schema import SchemaManager
from consumers.sql.settings import SqlSettings
from consumers.sql.upsert import build_upsert
from consumers.sql.urls import parse_database_url
from consumers.sql.writer import BatchWriter
from schemas import ContactSnapshot

# Rows derived and copied per step of the COPY reference (bounded memory at any --events).
COPY_CHUNK = 50_000


def per_row_baseline(url: str, events: Sequence[ContactSnapshot], sample: int) -> dict[str, Any]:
    """Time dbsync2's way: one autocommitted single-row upsert per row, on `sample` rows."""
    engine = build_engine(SqlSettings(url=parse_database_url(url), campaign="x"))
    schema = SchemaManager(engine, "perrow_")
    schema.ensure_base()
    writer = BatchWriter(engine, schema, "bench")
    subset = list(events[:sample])
    schema.ensure_custom_fields(collect_rows(subset[:1]))
    layout = schema.layouts["contact"]
    statement = build_upsert(layout, engine.dialect)
    rows = collect_rows(subset).for_table(layout.spec)
    params = writer.statements.params(layout, rows)
    started = time.monotonic()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for one in params:
            conn.execute(statement, [one])
    seconds = time.monotonic() - started
    engine.dispose()
    return {
        "rows": len(params),
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(params) / seconds),
    }


def prepared_per_row_baseline(
    url: str, events: Sequence[ContactSnapshot], sample: int
) -> dict[str, Any]:
    """Time dbsync2 v1.15 exactly on PostgreSQL: per row PREPARE, EXECUTE, DEALLOCATE in
    autocommit, `INSERT .. ON CONFLICT DO UPDATE SET c = $n+k` with args = values ++ values."""
    engine = build_engine(SqlSettings(url=parse_database_url(url), campaign="x"))
    schema = SchemaManager(engine, "prep_")
    schema.ensure_base()
    writer = BatchWriter(engine, schema, "bench")
    subset = list(events[:sample])
    schema.ensure_custom_fields(collect_rows(subset[:1]))
    layout = schema.layouts["contact"]
    rows = collect_rows(subset).for_table(layout.spec)
    params = writer.statements.params(layout, rows)
    quote = engine.dialect.identifier_preparer.quote
    columns = layout.columns()
    count = len(columns)
    names = ", ".join(quote(c.column) for c in columns)
    marks = ", ".join(f"${i + 1}" for i in range(count))
    sets = ", ".join(f"{quote(c.column)} = ${count + i + 1}" for i, c in enumerate(columns))
    sql = (
        f"INSERT INTO {quote(layout.name)} ({names}) VALUES ({marks}) "
        f"ON CONFLICT ({quote(layout.primary().column)}) DO UPDATE SET {sets}"
    ).replace("%%", "%")
    raw = engine.raw_connection()
    started = time.monotonic()
    try:
        raw.autocommit = True  # type: ignore[attr-defined]
        cursor = raw.cursor()
        exec_marks = ", ".join(["%s"] * (2 * count))
        for one in params:
            values = [one[c.key] for c in columns]
            cursor.execute(f"PREPARE dbsync_row AS {sql}")
            cursor.execute(f"EXECUTE dbsync_row ({exec_marks})", values + values)
            cursor.execute("DEALLOCATE dbsync_row")
    finally:
        raw.close()
    seconds = time.monotonic() - started
    engine.dispose()
    return {
        "rows": len(params),
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(params) / seconds),
    }


def copy_baseline(url: str, events: Iterable[ContactSnapshot]) -> dict[str, Any]:
    """Time PostgreSQL COPY of the same rows into an empty table of the same layout.

    The events are taken in chunks (a 1M-event run does not fit in memory as rows); per chunk the
    rows are derived untimed, then formatting and COPY are timed; one commit at the end.
    """
    engine = build_engine(SqlSettings(url=parse_database_url(url), campaign="x"))
    schema = SchemaManager(engine, "copy_")
    schema.ensure_base()
    writer = BatchWriter(engine, schema, "bench")
    layout = None
    seconds, count = 0.0, 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for chunk in _chunks(events, COPY_CHUNK):
            if layout is None:
                schema.ensure_custom_fields(collect_rows(chunk[:1]))
                layout = schema.layouts["contact"]
                columns = layout.columns()
                quote = engine.dialect.identifier_preparer.quote
                names = ", ".join(quote(c.column) for c in columns)
                copy_sql = f"COPY {quote(layout.name)} ({names}) FROM STDIN"
            params = writer.statements.params(layout, collect_rows(chunk).for_table(layout.spec))
            started = time.monotonic()
            buffer = io.StringIO()
            for one in params:
                buffer.write("\t".join(_copy_text(one[c.key]) for c in columns) + "\n")
            buffer.seek(0)
            cursor.copy_expert(copy_sql, buffer)
            seconds += time.monotonic() - started
            count += len(params)
        started = time.monotonic()
        raw.commit()
        seconds += time.monotonic() - started
    finally:
        raw.close()
    engine.dispose()
    return {"rows": count, "seconds": round(seconds, 2), "rows_per_s": round(count / seconds)}


def _chunks(events: Iterable[ContactSnapshot], size: int) -> Iterator[list[ContactSnapshot]]:
    chunk: list[ContactSnapshot] = []
    for event in events:
        chunk.append(event)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
