"""Check, before a legacy run starts any thread, that Kafka, the database and Dialfire answer.

Each failure becomes a `StartupError` with a one-line reason (exit 1, no traceback). Messages
never contain the token or a database password.
"""

from __future__ import annotations

import logging

from dbsync2.legacy_config import LegacySettings
from dbsync2.urls import redact_url

log = logging.getLogger(__name__)


class StartupError(Exception):
    """A legacy run cannot start; the message is the one line printed on stderr."""


def check_kafka(bootstrap: str, timeout: float) -> None:
    """Raise StartupError unless the Kafka cluster answers a metadata request within `timeout`."""
    from dbsync2.topics_cmd import KafkaUnavailableError, wait_for_kafka

    try:
        wait_for_kafka(bootstrap, timeout)
    except KafkaUnavailableError as exc:
        raise StartupError(str(exc)) from None


def check_database(url: str) -> None:
    """Raise StartupError unless the database at `url` accepts a connection and `SELECT 1`."""
    import sqlalchemy as sa

    from consumers.sql.urls import DatabaseUrlError, parse_database_url

    connect_args: dict[str, object] = {}
    try:
        sa_url = parse_database_url(url)
        if sa_url.get_backend_name() in {"postgresql", "mysql"}:
            # 10 s: a reachable server answers in milliseconds; a firewalled one hangs for minutes.
            connect_args = {"connect_timeout": 10}
        engine = sa.create_engine(sa_url, connect_args=connect_args)
    except DatabaseUrlError as exc:
        raise StartupError(f"Invalid database URL {redact_url(url)}: {exc}") from None
    except Exception as exc:
        raise StartupError(
            f"Invalid database URL {redact_url(url)}: {type(exc).__name__}"
        ) from None
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:
        reason = _first_line(getattr(exc, "orig", None) or exc)
        raise StartupError(
            f"Database unreachable at {redact_url(url)}: {_scrub(reason, url)}"
        ) from None
    finally:
        engine.dispose()


def check_dialfire(settings: LegacySettings) -> None:
    """Raise StartupError when Dialfire rejects the token (401/403) or does not answer."""
    import requests

    from producer.dialfire import DialfireAuthError, DialfireClient, DialfireError, RetryPolicy

    session = requests.Session()
    try:
        client = DialfireClient(
            session,
            settings.campaign_id,
            settings.token,
            base_url=settings.api_url,
            timeout=(5.0, 30.0),
            # 3 attempts: enough to ride out one blip before start, short enough to fail fast.
            retry=RetryPolicy(attempts=3),
        )
        client.fetch_fields()
    except DialfireAuthError as exc:
        raise StartupError(str(exc)) from None
    except DialfireError as exc:
        raise StartupError(f"Dialfire API at {settings.api_url} did not answer: {exc}") from None
    finally:
        session.close()


def _first_line(exc: object) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _scrub(text: str, url: str) -> str:
    """Remove the password of `url` from a driver's message, should a driver ever echo it."""
    rest = url.partition("://")[2]
    userinfo = rest.rpartition("@")[0]
    password = userinfo.partition(":")[2]
    return text.replace(password, "***") if password else text
