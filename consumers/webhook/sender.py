"""Send one webhook attempt for one transaction event and classify what came back.

Each attempt rebuilds the body and headers (so a retry never sends an empty body, unlike the
original's W6), has a timeout, never follows redirects and reads at most a few KiB of the answer.
Success is any 2xx; everything else is a failed attempt, classified for the circuit breaker.
"""

from __future__ import annotations

import email.utils
import enum
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from consumers.webhook.signing import RequestSigner
from schemas import TransactionEvent

EXCERPT_CHARS = 500
# Read no more of a failed answer than this: enough for an excerpt, bounded against huge bodies.
MAX_READ_BYTES = 4096
REDACTED = "***"


class AttemptOutcome(enum.StrEnum):
    """What one attempt amounted to."""

    DELIVERED = "delivered"
    REJECTED = "rejected"  # an HTTP answer other than 2xx or 5xx (4xx, 3xx, 1xx)
    SERVER_ERROR = "server_error"  # a 5xx answer
    TIMEOUT = "timeout"  # no answer within the timeout
    CONNECTION_ERROR = "connection_error"  # refused, reset, DNS, TLS: no answer at all


@dataclass(frozen=True)
class AttemptResult:
    """The result of one POST: outcome, status, Retry-After, a redacted excerpt, when."""

    outcome: AttemptOutcome
    status: int | None
    retry_after_s: float | None
    excerpt: str
    error: str
    started_at: str

    @property
    def delivered(self) -> bool:
        """True for a 2xx answer."""
        return self.outcome is AttemptOutcome.DELIVERED

    @property
    def is_outage(self) -> bool:
        """True when the failure looks like the endpoint, not the event (no answer, or 5xx)."""
        return self.outcome in (
            AttemptOutcome.SERVER_ERROR,
            AttemptOutcome.TIMEOUT,
            AttemptOutcome.CONNECTION_ERROR,
        )


class SecretRedactor:
    """Replaces secrets (signing secret, header values, URL credentials) in text with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """Return `text` with every known secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def describe_url(url: str) -> str:
    """Return scheme://host[:port]/path of a URL: no credentials, no query (it may hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def url_secrets(url: str) -> list[str]:
    """Return the parts of a URL that must never be logged: password, user, query."""
    parts = urlsplit(url)
    return [s for s in (parts.password, parts.username, parts.query) if s]


def parse_retry_after(value: str | None, now_epoch: float) -> float | None:
    """Return the delay a Retry-After header asks for (delta seconds or HTTP-date), else None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now_epoch)


def iso_from_epoch(epoch: float) -> str:
    """Return a UTC ISO-8601 timestamp with milliseconds."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


class WebhookSender:
    """POSTs transaction events to one endpoint through an injected `requests.Session`."""

    def __init__(
        self,
        session: requests.Session,
        url: str,
        signer: RequestSigner,
        timeout_s: float,
        verify_tls: bool = True,
        redactor: SecretRedactor | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._url = url
        self._signer = signer
        self._timeout_s = timeout_s
        self._verify = verify_tls
        self._redactor = redactor or SecretRedactor(url_secrets(url))
        self._wall_clock = wall_clock

    def build_request(
        self, event: TransactionEvent, timestamp: int
    ) -> tuple[bytes, dict[str, str]]:
        """Return (body, headers) of one attempt; the body is rebuilt every time (fixes W6)."""
        body = json.dumps(event.webhook_payload()).encode("utf-8")
        return body, self._signer.build_headers(event.event_id, timestamp, body)

    def send(self, event: TransactionEvent) -> AttemptResult:
        """Make one attempt; never raises for HTTP or network failures."""
        now = self._wall_clock()
        started_at = iso_from_epoch(now)
        body, headers = self.build_request(event, int(now))
        try:
            response = self._session.post(
                self._url,
                data=body,
                headers=headers,
                timeout=self._timeout_s,
                verify=self._verify,
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout as exc:
            return self._failure(AttemptOutcome.TIMEOUT, exc, started_at)
        except requests.RequestException as exc:
            return self._failure(AttemptOutcome.CONNECTION_ERROR, exc, started_at)
        try:
            raw = response.raw.read(MAX_READ_BYTES, decode_content=True) or b""
        except Exception:  # a broken body after the status line: the status still counts
            raw = b""
        finally:
            response.close()
        status = response.status_code
        if 200 <= status < 300:
            return AttemptResult(AttemptOutcome.DELIVERED, status, None, "", "", started_at)
        outcome = AttemptOutcome.SERVER_ERROR if status >= 500 else AttemptOutcome.REJECTED
        excerpt = self._redactor.redact(raw.decode("utf-8", errors="replace"))[:EXCERPT_CHARS]
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._wall_clock())
        return AttemptResult(outcome, status, retry_after, excerpt, f"HTTP {status}", started_at)

    def _failure(
        self, outcome: AttemptOutcome, exc: BaseException, started_at: str
    ) -> AttemptResult:
        # requests puts the full URL into messages; show only the safe form of it.
        message = str(exc).replace(self._url, describe_url(self._url))
        message = self._redactor.redact(f"{type(exc).__name__}: {message}")[:EXCERPT_CHARS]
        return AttemptResult(outcome, None, None, "", message, started_at)
