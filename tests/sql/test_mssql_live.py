"""Live SQL Server check, run only when $MSSQL_URL is set (SQL Server is not in CI)."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from consumers.sql.engine import build_engine
from consumers.sql.schema import SchemaManager
from consumers.sql.writer import BatchWriter
from tests.sql.builders import BASE_VERSION
from tests.sql.harness import canon, read_table, settings_for
from tests.sql.test_writer import HOSTILE, snapshot

MSSQL_URL = os.environ.get("MSSQL_URL", "")

# Without MSSQL_URL this module is deselected (not skipped) by tests/conftest.py, and the run says
# so: no SQL Server can run on CI machines; test_mssql_statements.py checks its SQL text instead.
pytestmark = [pytest.mark.integration, pytest.mark.mssql_live]


def test_sql_server_round_trip_and_stale_guard() -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    engine = build_engine(settings_for(MSSQL_URL, "C", "unused:9092", "g"))
    try:
        schema = SchemaManager(engine, prefix)
        schema.ensure_base()
        writer = BatchWriter(engine, schema, "g")
        writer.write([snapshot("M1", BASE_VERSION + 2, **HOSTILE)], {("t", 0): 1})
        writer.write([snapshot("M1", BASE_VERSION + 1, city="stale")], {("t", 0): 2})
        row = read_table(engine, prefix, "contacts")["M1"]
        for name, value in HOSTILE.items():
            assert row.get(name) == canon(value), name
        assert row.get("city") is None
        assert writer.read_offsets("t") == {0: 2}
    finally:
        with engine.begin() as conn:
            for name in sa.inspect(conn).get_table_names():
                if name.startswith(prefix):
                    conn.execute(sa.text(f"DROP TABLE [{name}]"))
        engine.dispose()
