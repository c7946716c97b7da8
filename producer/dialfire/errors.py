"""Exceptions the Dialfire client raises; none of them ever carries the campaign token."""

from __future__ import annotations


class DialfireError(Exception):
    """Base class: a Dialfire API call did not give a usable answer."""


class DialfireAuthError(DialfireError):
    """401/403: the campaign token was rejected. Retrying cannot help; the service stops."""

    def __init__(self, campaign_id: str, status: int, path: str) -> None:
        self.campaign_id = campaign_id
        self.status = status
        self.path = path
        super().__init__(
            f"campaign {campaign_id}: Dialfire rejected the campaign token with HTTP {status} "
            f"on {path}. Check --ct/--token: the Sync Client connector token is only visible to "
            "the user who activated the connector in Dialfire."
        )


class DialfireUnavailableError(DialfireError):
    """Every attempt failed with a connection error, a timeout, a 5xx or a 429."""


class DialfireResponseError(DialfireError):
    """The answer was not what the endpoint promises: bad JSON, a wrong shape, an odd status."""
