"""Dialfire campaign API client: the five endpoints the Sync Client uses, with retries."""

from producer.dialfire.client import DialfireClient
from producer.dialfire.errors import (
    DialfireAuthError,
    DialfireError,
    DialfireResponseError,
    DialfireUnavailableError,
)
from producer.dialfire.retry import RetryPolicy

__all__ = [
    "DialfireAuthError",
    "DialfireClient",
    "DialfireError",
    "DialfireResponseError",
    "DialfireUnavailableError",
    "RetryPolicy",
]
