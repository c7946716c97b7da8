"""The five dbsync2 tables: their fixed columns, primary keys and per-dialect column types.

Names and primary keys are those of dbsync2 v1.15 (behaviour doc §4.2-4.3), so existing reports
keep working. Types fix the original's defects (§8 W5, W18, W19): text where values can be long,
numerics that keep decimals, utf8mb4 on MySQL/MariaDB and real lengths on SQL Server.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql

VERSION_COLUMN = "$dbsync_version"
CHANGED_COLUMN = "$changed"
# Key and indexed columns need a bounded type on MySQL and SQL Server; 255 characters fit every
# Dialfire id and md5 and keep a two-column index under InnoDB's 3072-byte key limit in utf8mb4.
KEY_LENGTH = 255


class ColumnKind(enum.StrEnum):
    """How a column's values are converted: the abstract types of behaviour doc §4.3."""

    KEY = "key"  # primary key and other bounded identifiers
    SHORT = "short_string"
    STRING = "string"
    TEXT = "text"
    NUMBER = "number"
    BOOL = "bool"
    VERSION = "version"


@dataclass(frozen=True)
class TableSpec:
    """One table: entity name, primary key and fixed columns in dbsync2's order."""

    entity: str
    primary_key: str
    columns: tuple[tuple[str, ColumnKind], ...]

    def name(self, prefix: str) -> str:
        """Return the table name with the `--tp` prefix, e.g. 'contacts'."""
        return f"{prefix}{self.entity}s"

    def kinds(self) -> dict[str, ColumnKind]:
        """Return column name -> kind, the version column included."""
        return dict(self.columns) | {VERSION_COLUMN: ColumnKind.VERSION}


S, STR, T = ColumnKind.SHORT, ColumnKind.STRING, ColumnKind.TEXT
N, B, K = ColumnKind.NUMBER, ColumnKind.BOOL, ColumnKind.KEY

CONTACTS = TableSpec(
    "contact",
    "$id",
    (
        ("$id", K),
        ("$md5", K),
        *((name, S) for name in ("$ref", "$version", "$campaign_id", "$task_id", "$task")),
        ("$status", S),
        ("$status_detail", STR),
        *(
            (name, S)
            for name in (
                "$created_date",
                "$entry_date",
                "$owner",
                "$follow_up_date",
                "$phone",
                "$timezone",
                "$caller_id",
                "$source",
            )
        ),
        ("$comment", T),
        ("$error", S),
        ("$recording", STR),
        ("$recording_url", STR),
        (CHANGED_COLUMN, S),
    ),
)

TRANSACTIONS = TableSpec(
    "transaction",
    "id",
    (
        ("id", K),
        *((name, S) for name in ("contact_id", "task_id", "task", "status")),
        ("status_detail", STR),
        ("fired", S),
        *((name, N) for name in ("pause_time_sec", "edit_time_sec", "wrapup_time_sec")),
        *(
            (name, S)
            for name in (
                "user",
                "user_loginName",
                "user_branch",
                "user_tenantAlias",
                "actor",
                "type",
                "result",
                "trigger",
            )
        ),
        ("isHI", B),
        ("revoked", B),
        (CHANGED_COLUMN, S),
    ),
)

CONNECTIONS = TableSpec(
    "connection",
    "id",
    (
        ("id", K),
        *((name, S) for name in ("parent_connection_id", "transfer_target_address", "call_uuid")),
        ("global_call_uuid", STR),
        *(
            (name, S)
            for name in (
                "transaction_id",
                "task_id",
                "contact_id",
                "phone",
                "user",
                "actor",
                "hangup_party",
                "isThirdPartyConnection",
                "dialerdomain",
                "fired",
                "started",
                "initiated",
                "connected",
                "disconnected",
                "ended",
            )
        ),
        ("duration", N),
        *((name, S) for name in ("remote_number", "line_number", "technology", "result")),
        ("code", N),
        *((name, S) for name in ("call_initiated", "call_connected", "call_disconnected")),
        (CHANGED_COLUMN, S),
    ),
)

RECORDINGS = TableSpec(
    "recording",
    "id",
    (
        ("id", K),
        *((name, S) for name in ("contact_id", "connection_id", "started", "stopped")),
        ("filename", STR),
        ("location", STR),
        (CHANGED_COLUMN, S),
    ),
)

INBOUND_CALLS = TableSpec(
    "inbound_call",
    "id",
    (
        ("id", K),
        *(
            (name, S)
            for name in (
                "line_id",
                "campaign_id",
                "task_id",
                "task_name",
                "contact_id",
                "remote_number",
                "line_number",
                "started",
                "connected",
                "disconnected",
                "user",
                "state",
                "connectable_time",
                "disposition",
            )
        ),
        ("dispatch_error", B),
        (CHANGED_COLUMN, S),
    ),
)

ALL_TABLES: tuple[TableSpec, ...] = (CONTACTS, TRANSACTIONS, CONNECTIONS, RECORDINGS, INBOUND_CALLS)


def column_type(kind: ColumnKind, dialect: str) -> sa.types.TypeEngine[Any]:
    """Return the SQL type of a column kind in one dialect (see docs/sql-materializer.md)."""
    if kind is ColumnKind.VERSION:
        return sa.BigInteger()
    if kind is ColumnKind.BOOL:
        return mssql.BIT() if dialect == "mssql" else sa.Boolean()
    if kind is ColumnKind.NUMBER:
        # PostgreSQL NUMERIC is exact and unbounded; MySQL's bare NUMERIC is DECIMAL(10,0) (W18),
        # so MySQL and SQL Server get 28 integer and 10 fractional digits.
        if dialect == "postgresql":
            return sa.Numeric()
        if dialect == "sqlite":
            return sa.Numeric(asdecimal=True)
        return sa.Numeric(38, 10)
    return _string_type(kind, dialect)


def _string_type(kind: ColumnKind, dialect: str) -> sa.types.TypeEngine[Any]:
    bounded = kind in (ColumnKind.KEY, ColumnKind.SHORT)
    if dialect == "mysql":
        if bounded:
            return sa.String(KEY_LENGTH)
        # MEDIUMTEXT (16 MiB): TEXT's 65,535 bytes hold only ~16k four-byte characters.
        return mysql.MEDIUMTEXT()
    if dialect == "mssql":
        # nvarchar(max) for long values; W5/W19: never bare nvarchar (= 1 char) or legacy text.
        return mssql.NVARCHAR(KEY_LENGTH) if bounded else mssql.NVARCHAR(None)
    if kind is ColumnKind.KEY:
        return sa.String(KEY_LENGTH) if dialect != "postgresql" else sa.Text()
    return sa.Text()


def table_options(dialect: str) -> dict[str, Any]:
    """Return CREATE TABLE options: utf8mb4 with a binary collation on MySQL/MariaDB (W18)."""
    if dialect == "mysql":
        return {
            "mysql_charset": "utf8mb4",
            "mysql_collate": "utf8mb4_bin",
            "mysql_engine": "InnoDB",
        }
    return {}
