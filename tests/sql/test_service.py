"""The `dbsync2 consume sql` process: exit codes and no password in its output."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.sql.harness import REPO

pytestmark = [pytest.mark.integration]

PASSWORD = "wr@ng/pa:ss?word"


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DBSYNC_")}
    environ.update(env, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "dbsync2.cli", "consume", "sql", *args],
        env=environ,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("scheme", ["postgres", "mysql"])
def test_wrong_password_exits_1_without_printing_it(
    scheme: str, postgres_url: str, mariadb_url: str
) -> None:
    base = sa.make_url(postgres_url if scheme == "postgres" else mariadb_url)
    url = f"{scheme}://{base.username}:{PASSWORD}@{base.host}:{base.port}/{base.database}"
    result = run_cli(["--campaign", "C"], {"DBSYNC_URL": url})
    assert result.returncode == 1, result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    assert "***" in result.stderr  # the URL is logged, password hidden
    assert "database error" in result.stderr


def test_missing_campaign_is_a_usage_error() -> None:
    result = run_cli(["--url", f"postgres://u:{PASSWORD}@h/db"], {})
    assert result.returncode == 1
    assert "campaign" in result.stderr
    assert PASSWORD not in result.stderr
