"""The table comparer reads hostile column names exactly on every dialect (a`b, q"uote, spaces)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from ops.truth.compare import compare_database, read_table, split_table_name, table_differences
from ops.truth.oracle import Tables

# Legal custom-field names that break hand-built or reflected SQL on one dialect or another.
HOSTILE = ["a`b", 'q"uote', "s'q", "with space", "``", "x``y`", "DROP TABLE x; --"]
RENAMED_FIELD = 'renamed `field` "here"'  # stored under another column via dbsync_columns


@pytest.fixture(params=["postgres", "mariadb", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        made = sa.create_engine(f"sqlite:///{tmp_path / 'compare.sqlite'}")
        yield made
        made.dispose()
    else:
        fixture = "pg_engine" if request.param == "postgres" else "mariadb_engine"
        yield request.getfixturevalue(fixture)


def make_tables(engine: sa.Engine, prefix: str) -> None:
    """A contacts table with hostile columns, one row, and a dbsync_columns entry."""
    metadata = sa.MetaData()
    contacts = sa.Table(
        f"{prefix}contacts",
        metadata,
        sa.Column("$id", sa.String(64), primary_key=True),
        sa.Column("$version", sa.Numeric(38, 10)),
        sa.Column("flag", sa.Boolean()),
        *[sa.Column(name, sa.Text()) for name in HOSTILE],
        sa.Column("c_renamed", sa.Text()),
    )
    columns = sa.Table(
        f"{prefix}dbsync_columns",
        metadata,
        sa.Column("table_name", sa.String(64)),
        sa.Column("field_name", sa.Text()),
        sa.Column("column_name", sa.String(64)),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            contacts.insert().values(
                {"$id": "C1", "$version": 3, "flag": True, "c_renamed": "moved"}
                | {name: f"value of {name}" for name in HOSTILE}
            )
        )
        conn.execute(
            columns.insert().values(
                table_name=f"{prefix}contacts", field_name=RENAMED_FIELD, column_name="c_renamed"
            )
        )


def expected(prefix: str) -> Tables:
    row = {"$id": "C1", "$version": 3, "flag": True, RENAMED_FIELD: "moved"}
    return {f"{prefix}contacts": {"C1": row | {name: f"value of {name}" for name in HOSTILE}}}


@pytest.mark.integration
@pytest.mark.parametrize("prefix", ["", 'df_`"x '])
def test_hostile_column_names_compare_exactly(engine: sa.Engine, prefix: str) -> None:
    make_tables(engine, prefix)
    want = expected(prefix)

    report = compare_database(engine, want)
    assert (report.mismatches, report.rows_compared) == (0, 1), report.examples
    assert table_differences(engine, want) == []
    row = read_table(engine, f"{prefix}contacts")["C1"]
    assert {name: row[name] for name in HOSTILE} == {name: f"value of {name}" for name in HOSTILE}

    # Not vacuous: a wrong value in any hostile column is found, under the field's name.
    for name in [*HOSTILE, RENAMED_FIELD]:
        wrong = expected(prefix)
        wrong[f"{prefix}contacts"]["C1"][name] = "something else"
        found = compare_database(engine, wrong)
        assert found.stale_or_wrong == 1, name
        assert f".{name}: expected 'something else'" in found.examples[0]


@pytest.mark.integration
def test_missing_and_unexpected_rows_are_counted(engine: sa.Engine) -> None:
    make_tables(engine, "")
    want = expected("")
    want["contacts"]["C2"] = {"$id": "C2"}
    want["transactions"] = {"T1": {"id": "T1"}}
    del want["contacts"]["C1"]
    report = compare_database(engine, want)
    assert (report.missing, report.unexpected, report.stale_or_wrong) == (2, 1, 0)
    assert any("transactions: table missing" in text for text in report.examples)


def test_table_names_split_into_prefix_and_entity() -> None:
    assert split_table_name("df_inbound_calls") == ("df_", "inbound_calls")
    assert split_table_name("contacts") == ("", "contacts")
    with pytest.raises(ValueError, match="not a dbsync2 data table"):
        split_table_name("dbsync_offsets")
