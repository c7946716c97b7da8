"""The two helper tables: `{tp}dbsync_columns` (field -> column map) and `{tp}dbsync_offsets`."""

from __future__ import annotations

import sqlalchemy as sa

from consumers.sql.tables import KEY_LENGTH, ColumnKind, column_type, table_options


def mapping_table(prefix: str, dialect: str) -> sa.Table:
    """Return `{tp}dbsync_columns`: which column holds which custom field."""
    long_text = column_type(ColumnKind.TEXT, dialect)
    return sa.Table(
        f"{prefix}dbsync_columns",
        sa.MetaData(),
        sa.Column("table_name", sa.String(KEY_LENGTH), primary_key=True),
        sa.Column("field_md5", sa.String(32), primary_key=True),
        sa.Column("field_name", long_text, nullable=False),
        sa.Column("column_name", sa.String(KEY_LENGTH), nullable=False),
        sa.Column("column_kind", sa.String(16), nullable=False),
        **table_options(dialect),
    )


def offsets_table(prefix: str, dialect: str) -> sa.Table:
    """Return `{tp}dbsync_offsets`: the next offset per group and partition, written with rows."""
    return sa.Table(
        f"{prefix}dbsync_offsets",
        sa.MetaData(),
        sa.Column("group_id", sa.String(KEY_LENGTH), primary_key=True),
        sa.Column("topic", sa.String(KEY_LENGTH), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        **table_options(dialect),
    )
