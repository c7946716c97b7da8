"""Map hostile custom field names to safe, deterministic column names.

Rules (documented in docs/sql-materializer.md):
1. A field name is used verbatim when the dialect accepts it as a quoted identifier.
2. Characters the dialect cannot store in an identifier are replaced by '_' (NUL everywhere;
   on MySQL/MariaDB also characters outside the Basic Multilingual Plane, e.g. emoji, '%',
   and trailing spaces).
3. Names over the identifier limit (PostgreSQL 63 bytes, MySQL 64 characters, SQL Server 128)
   are cut so that the result plus a suffix fits.
4. A name that collides case-insensitively with an existing column (MariaDB, SQL Server and
   SQLite column names are case-insensitive) gets the suffix too; the same rule applies on every
   dialect so one campaign maps to the same column names everywhere.
The suffix is '_' + the first 8 hex digits of md5(field name), so it depends only on the name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection

SUFFIX_HEX = 8


def identifier_limit(dialect: str) -> tuple[int, bool]:
    """Return (maximum identifier length, whether it counts UTF-8 bytes instead of characters)."""
    if dialect == "postgresql":
        return 63, True
    if dialect == "mysql":
        return 64, False
    if dialect == "mssql":
        return 128, False
    return 1000, False


def name_suffix(field_name: str) -> str:
    """Return the deterministic collision/length suffix of a field name."""
    digest = hashlib.md5(field_name.encode("utf-8"), usedforsecurity=False).hexdigest()
    return "_" + digest[:SUFFIX_HEX]


def sanitize_identifier(name: str, dialect: str) -> str:
    """Replace characters the dialect cannot hold in a quoted identifier with '_'."""
    cleaned = name.replace("\x00", "_")
    if dialect == "mysql":
        # '%' too: SQLAlchemy's MySQL VALUES() rendering escapes it twice for PyMySQL.
        cleaned = "".join("_" if ord(ch) > 0xFFFF or ch == "%" else ch for ch in cleaned)
        stripped = cleaned.rstrip(" ")
        cleaned = stripped + "_" * (len(cleaned) - len(stripped))
    return cleaned or "_"


def _measure(text: str, in_bytes: bool) -> int:
    return len(text.encode("utf-8")) if in_bytes else len(text)


def _cut(text: str, limit: int, in_bytes: bool) -> str:
    """Return the longest prefix of `text` within `limit`, never splitting a character."""
    if _measure(text, in_bytes) <= limit:
        return text
    out = []
    used = 0
    for ch in text:
        size = _measure(ch, in_bytes)
        if used + size > limit:
            break
        out.append(ch)
        used += size
    return "".join(out)


def map_column_name(field_name: str, dialect: str, taken: Collection[str]) -> str:
    """Return the column name for a new field, given the column names already in the table."""
    limit, in_bytes = identifier_limit(dialect)
    taken_folded = {name.casefold() for name in taken}
    candidate = sanitize_identifier(field_name, dialect)
    needs_suffix = (
        candidate != field_name
        or _measure(candidate, in_bytes) > limit
        or candidate.casefold() in taken_folded
    )
    if not needs_suffix:
        return candidate
    suffix = name_suffix(field_name)
    candidate = _cut(candidate, limit - len(suffix), in_bytes) + suffix
    # Two hostile names that share a long prefix and an md5 prefix are astronomically unlikely;
    # still never return a taken name: extend with a counter.
    counter = 2
    base = candidate
    while candidate.casefold() in taken_folded:
        tail = f"_{counter}"
        candidate = _cut(base, limit - len(tail), in_bytes) + tail
        counter += 1
    return candidate
