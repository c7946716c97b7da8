"""Fixtures for the SQL materializer tests: one fresh database per test, in each dialect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: a unique PostgreSQL schema, MariaDB database or SQLite file."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_schema_url"))
    if request.param == "mariadb":
        return str(request.getfixturevalue("mariadb_db_url"))
    return f"sqlite:///{tmp_path}/dbsync.db"


@pytest.fixture
def database_engine(database_url: str) -> Iterator[sa.Engine]:
    """An engine on `database_url` (test-side reads; the group builds its own)."""
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()
