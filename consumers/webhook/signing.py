"""Build the headers of one webhook attempt, including the Standard Webhooks HMAC signature.

Signature (https://www.standardwebhooks.com): `webhook-signature: v1,<base64 HMAC-SHA256>` over
`f"{webhook-id}.{webhook-timestamp}.{body}"`. A secret of the form `whsec_<base64>` signs with the
base64-decoded bytes; any other secret signs with its raw UTF-8 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
USER_AGENT = "dbsync2-webhook/2"
# Header names the relay owns; --header may not override them.
RESERVED_HEADERS = frozenset(
    {"content-type", "idempotency-key", "webhook-id", "webhook-timestamp", "webhook-signature"}
)


class SigningKeyError(ValueError):
    """The signing secret cannot be used (the message never contains the secret)."""


def decode_signing_key(secret: str) -> bytes:
    """Return the HMAC key of a secret: base64-decoded after `whsec_`, else its UTF-8 bytes."""
    if not secret:
        raise SigningKeyError("the signing secret is empty")
    if secret.startswith(SECRET_PREFIX):
        try:
            key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise SigningKeyError(
                "a whsec_ signing secret must be valid base64 after the prefix"
            ) from None
        if not key:
            raise SigningKeyError("the signing secret decodes to zero bytes")
        return key
    return secret.encode("utf-8")


def sign_payload(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the `webhook-signature` value `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def parse_header_option(text: str) -> tuple[str, str]:
    """Parse one `--header 'Name: value'` option; raise ValueError naming only the header."""
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name or any(c.isspace() for c in name):
        raise ValueError("a --header must look like 'Name: value'")
    if name.lower() in RESERVED_HEADERS:
        raise ValueError(f"--header may not set {name}: the relay sets it itself")
    return name, value.strip()


@dataclass(frozen=True)
class RequestSigner:
    """Builds the headers of one attempt: content type, ids, timestamp, signature, extras."""

    key: bytes | None = None
    extra_headers: Sequence[tuple[str, str]] = ()

    def build_headers(self, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        """Return the headers for one POST of `body` for the event `event_id` at `timestamp`."""
        headers: dict[str, str] = {"User-Agent": USER_AGENT}
        headers.update(self.extra_headers)
        headers["Content-Type"] = "application/json"
        headers["Idempotency-Key"] = event_id
        headers["webhook-id"] = event_id
        headers["webhook-timestamp"] = str(timestamp)
        if self.key is not None:
            headers["webhook-signature"] = sign_payload(self.key, event_id, timestamp, body)
        return headers

    def secret_values(self) -> Mapping[str, str]:
        """Return the header values that must never appear in logs or dead-letter excerpts."""
        return {name: value for name, value in self.extra_headers if value}
