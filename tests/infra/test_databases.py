"""Real writes and reads of unicode text (emoji included) on PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.integration

TEXTS = ["plain ascii", "Grüße aus Köln", "日本語テキスト", "emoji 😀🚀👍🏽", "Ελληνικά ∑ ≠ ∞"]


def _round_trip(engine: sa.Engine) -> list[str]:
    metadata = sa.MetaData()
    notes = sa.Table(
        "notes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("body", sa.String(200), nullable=False),
    )
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(notes.insert(), [{"id": i, "body": t} for i, t in enumerate(TEXTS)])
    with engine.connect() as connection:
        return list(connection.execute(sa.select(notes.c.body).order_by(notes.c.id)).scalars())


def test_postgres_round_trip_in_own_schema(pg_engine: sa.Engine) -> None:
    assert _round_trip(pg_engine) == TEXTS
    with pg_engine.connect() as connection:
        schema = connection.execute(sa.text("SELECT current_schema()")).scalar_one()
    assert schema.startswith("t_")
    assert sa.inspect(pg_engine).get_table_names(schema=schema) == ["notes"]


def test_mariadb_round_trip_in_own_database(mariadb_engine: sa.Engine) -> None:
    assert _round_trip(mariadb_engine) == TEXTS
    with mariadb_engine.connect() as connection:
        database = connection.execute(sa.text("SELECT DATABASE()")).scalar_one()
        charset = connection.execute(
            sa.text(
                "SELECT default_character_set_name FROM information_schema.schemata"
                " WHERE schema_name = :name"
            ),
            {"name": database},
        ).scalar_one()
    assert database.startswith("t_")
    assert charset == "utf8mb4"
