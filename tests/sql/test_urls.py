"""Database URL parsing: dbsync2 forms, SQLAlchemy forms, hostile passwords, no password leaks."""

from __future__ import annotations

import logging

import pytest

from consumers.sql.service import PasswordFilter
from consumers.sql.settings import SettingsError, parse_settings
from consumers.sql.urls import DatabaseUrlError, describe_url, parse_database_url

HOSTILE_PASSWORD = "p@ss/w:rd?x=1&y#%z"


def test_mysql_url_with_jdbc_parameter() -> None:
    url = parse_database_url("mysql://user:pw@db.example:3306/crm?useSSL=false")
    assert url.drivername == "mysql+pymysql"
    assert (url.username, url.password, url.host, url.port) == ("user", "pw", "db.example", 3306)
    assert url.database == "crm"
    assert dict(url.query) == {"charset": "utf8mb4"}


def test_postgres_url_keeps_driver_parameters() -> None:
    url = parse_database_url("postgres://u:p@localhost:5432/dbsync?sslmode=disable")
    assert url.drivername == "postgresql+psycopg2"
    assert url.database == "dbsync"
    assert dict(url.query) == {"sslmode": "disable"}


def test_sqlserver_url_takes_the_database_after_the_instance() -> None:
    url = parse_database_url("sqlserver://sa:pw@mssql:1433/SQLEXPRESS/crm")
    assert url.drivername == "mssql+pyodbc"
    assert (url.host, url.port, url.database) == ("mssql", 1433, "crm")
    assert url.query["driver"] == "ODBC Driver 18 for SQL Server"
    no_port = parse_database_url("sqlserver://sa:pw@mssql/SQLEXPRESS/crm")
    assert no_port.host == "mssql\\SQLEXPRESS"


@pytest.mark.parametrize(
    "scheme", ["mysql", "postgres", "sqlserver", "postgresql+psycopg2", "mysql+pymysql"]
)
def test_hostile_passwords_survive_raw_and_percent_encoded(scheme: str) -> None:
    raw = parse_database_url(f"{scheme}://user:{HOSTILE_PASSWORD}@h:1234/inst/db")
    encoded = parse_database_url(f"{scheme}://user:p%40ss%2Fw%3Ard%3Fx%3D1%26y%23%25z@h:1234/db")
    for url in (raw, encoded):
        assert url.password == HOSTILE_PASSWORD
        assert (url.host, url.port, url.database) == ("h", 1234, "db")
        assert HOSTILE_PASSWORD not in describe_url(url)
        assert "***" in describe_url(url)


def test_sqlite_and_errors() -> None:
    assert parse_database_url("sqlite:///tmp/x.db").database == "tmp/x.db"
    with pytest.raises(DatabaseUrlError) as caught:
        parse_database_url("oracle://u:secret@h/db")
    assert "secret" not in str(caught.value)
    with pytest.raises(DatabaseUrlError):
        parse_database_url("not a url")


def test_settings_from_environment_and_url_file(tmp_path: object) -> None:
    env = {"DBSYNC_URL": "postgres://u:pw@h/db", "DBSYNC_CAMPAIGN": "C1", "DBSYNC_GROUP": "g"}
    settings = parse_settings(["--tp", "df_", "--batch-size", "7"], env)
    assert (settings.campaign, settings.group, settings.table_prefix) == ("C1", "g", "df_")
    assert settings.batch_size == 7
    path = f"{tmp_path}/url"
    with open(path, "w") as handle:
        handle.write(f"mysql://u:{HOSTILE_PASSWORD}@h/db\n")
    from_file = parse_settings(["--url-file", path, "--c", "C2"], {})
    assert from_file.password == HOSTILE_PASSWORD
    with pytest.raises(SettingsError, match="campaign"):
        parse_settings(["--url", "postgres://u:pw@h/db"], {})


def test_password_filter_redacts_log_records() -> None:
    record = logging.LogRecord("x", logging.ERROR, "f", 1, "failed: %s", (HOSTILE_PASSWORD,), None)
    PasswordFilter(HOSTILE_PASSWORD).filter(record)
    assert HOSTILE_PASSWORD not in record.getMessage()
