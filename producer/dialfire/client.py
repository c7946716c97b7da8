"""HTTP client for the five Dialfire endpoints the Sync Client uses (behaviour doc §2.2).

Every request has connect/read timeouts (W24), sends its query through `requests` params so
cursors and task prefixes are URL-encoded (W23), and is rebuilt from scratch on every attempt, body
included (W6). Connection errors, timeouts, 5xx and 429 are retried with full-jitter backoff and
Retry-After; after the last attempt the caller gets `DialfireUnavailableError` (never `None`, W7).
401/403 raise `DialfireAuthError` at once. The token lives only in the Authorization header.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from producer.dialfire.errors import (
    DialfireAuthError,
    DialfireError,
    DialfireResponseError,
    DialfireUnavailableError,
)
from producer.dialfire.retry import RETRYABLE_STATUSES, RetryPolicy
from producer.dialfire.shapes import (
    ContactMd5,
    JsonDict,
    TransactionEventRef,
    check_contact_md5s,
    check_contacts,
    check_fields,
    check_inbound_calls,
    check_page,
    parse_event_refs,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.dialfire.com"
PAGE_LIMIT = 1000  # the original's FETCH_SIZE_* (E2, E4, E5); the server caps pages at 1000
MAX_IDS_PER_POST = 20  # the original's FETCH_SIZE_CONTACTS; the API refuses more per E3 request
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
# Metric label per endpoint path (bounded: the five endpoints, never an id).
ENDPOINT_NAMES = {
    "/fields/list": "fields",
    "/contacts/list": "contacts_list",
    "/contacts/": "contacts",
    "/contacts/transactions/": "transactions",
    "/inbound/calls/": "inbound_calls",
}
# on_request(endpoint, seconds, error kind or None): called once per HTTP attempt.
RequestHook = Callable[[str, float, str | None], None]


@dataclass
class ClientStats:
    """Counters for logs and the benchmark (thread-safe: E3 calls run in parallel)."""

    requests: int = 0
    retries: int = 0
    http_seconds: float = 0.0
    skipped_event_strings: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, seconds: float, retried: bool) -> None:
        """Count one HTTP exchange."""
        with self._lock:
            self.requests += 1
            self.http_seconds += seconds
            self.retries += int(retried)


class DialfireClient:
    """Calls one campaign's Dialfire endpoints over an injected `requests.Session`."""

    def __init__(
        self,
        session: requests.Session,
        campaign_id: str,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: tuple[float, float] = (5.0, 60.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_request: RequestHook | None = None,
    ) -> None:
        """`timeout` = (connect, read) seconds: 5 s to connect is generous for one TLS handshake;
        60 s of read silence covers a slow 1000-row page but not a hung connection."""
        self._session = session
        self.campaign_id = campaign_id
        self._auth = {"Authorization": f"Bearer {token}"}
        self._base = base_url.rstrip("/") + "/api/campaigns/" + quote(campaign_id, safe="")
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._on_request = on_request
        self.stats = ClientStats()

    def __repr__(self) -> str:
        """Show the campaign and endpoint, never the token."""
        return f"DialfireClient(campaign={self.campaign_id!r}, base={self._base!r})"

    # --- endpoints ------------------------------------------------------------------

    def fetch_fields(self) -> list[JsonDict]:
        """E1: the campaign's field list."""
        return check_fields(self._call("GET", "/fields/list"))

    def iter_contact_md5s(self, changed_since: str | None = None) -> Iterator[list[ContactMd5]]:
        """E2: pages of (contact id, md5); `changed_since` is `YYYY-MM-DD` or None for all."""
        params: dict[str, str] = {}
        if changed_since:
            params["changedSince"] = changed_since[:10]
        for results in self._iter_pages("/contacts/list", params, "contact list"):
            yield check_contact_md5s(results)

    def fetch_contacts(self, contact_ids: list[str]) -> list[JsonDict]:
        """E3: up to 20 whole contacts with `$md5` and `$task_log`, in the order requested."""
        if len(contact_ids) > MAX_IDS_PER_POST:
            raise ValueError(f"at most {MAX_IDS_PER_POST} contact ids per request")
        body = self._call(
            "POST", "/contacts/", params={"include_md5": "true"}, json_body=list(contact_ids)
        )
        contacts = check_contacts(body, contact_ids)
        by_id = {c["$id"]: c for c in contacts}
        return [by_id[cid] for cid in contact_ids if cid in by_id]

    def iter_transaction_events(
        self, start: str, end: str | None, filters: Mapping[str, str]
    ) -> Iterator[list[TransactionEventRef]]:
        """E4: pages of transaction events with start <= time <= end, filtered server-side."""
        params = dict(filters)
        params["from"] = start
        if end:
            params["to"] = end
        for results in self._iter_pages("/contacts/transactions/", params, "transaction events"):
            refs, skipped = parse_event_refs(results)
            if skipped:
                log.warning("skipped %d transaction event(s) of an unexpected format", skipped)
                with self.stats._lock:
                    self.stats.skipped_event_strings += skipped
            yield refs

    def iter_inbound_calls(self, start: str, end: str | None) -> Iterator[list[JsonDict]]:
        """E5: pages of inbound calls with start <= call_time <= end."""
        params = {"from": start}
        if end:
            params["to"] = end
        for results in self._iter_pages("/inbound/calls/", params, "inbound calls"):
            yield check_inbound_calls(results)

    # --- transport ------------------------------------------------------------------

    def _iter_pages(self, path: str, params: dict[str, str], what: str) -> Iterator[list[Any]]:
        cursor = ""
        while True:
            query = dict(params, limit=str(PAGE_LIMIT))
            if cursor:
                query["cursor"] = cursor
            page = check_page(self._call("GET", path, params=query), what)
            yield page.results
            if not page.cursor:
                return
            if page.cursor == cursor:
                raise DialfireResponseError(f"{what}: the server returned the same cursor again")
            cursor = page.cursor

    def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        json_body: list[str] | None = None,
    ) -> Any:
        """Send one request with retries and return its decoded JSON body."""
        url = self._base + path
        attempts = max(1, self._retry.attempts)
        for attempt in range(1, attempts + 1):
            # Rebuilt on every attempt: a fresh body and a fresh PreparedRequest (fix of W6).
            headers = dict(self._auth)
            data: bytes | None = None
            if json_body is not None:
                data = json.dumps(json_body).encode("utf-8")
                headers["Content-Type"] = "application/json"
            started = time.monotonic()
            retry_after: str | None = None
            try:
                response = self._session.request(
                    method, url, params=params, data=data, headers=headers, timeout=self._timeout
                )
            except _TRANSIENT as exc:
                problem = f"{type(exc).__name__}"
                self._report(path, started, _error_kind(exc))
            except requests.RequestException as exc:
                self._report(path, started, "request_error")
                raise DialfireError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
            else:
                self.stats.add(time.monotonic() - started, attempt > 1)
                status = response.status_code
                self._report(path, started, None if status == 200 else f"http_{status}")
                if status == 200:
                    return _decode_json(response, method, path)
                if status in (401, 403):
                    raise DialfireAuthError(self.campaign_id, status, path)
                if status not in RETRYABLE_STATUSES:
                    raise DialfireResponseError(
                        f"{method} {path}: unexpected HTTP {status}: {_excerpt(response)}"
                    )
                problem = f"HTTP {status}"
                retry_after = response.headers.get("Retry-After")
            if attempt == attempts:
                raise DialfireUnavailableError(
                    f"{method} {path}: gave up after {attempts} attempts, last: {problem}"
                )
            delay = self._retry.delay(attempt, retry_after)
            log.warning(
                "%s %s: %s (attempt %d/%d), retrying in %.2f s",
                method, path, problem, attempt, attempts, delay,
            )  # fmt: skip
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _report(self, path: str, started: float, error_kind: str | None) -> None:
        if self._on_request is not None:
            endpoint = ENDPOINT_NAMES.get(path, "other")
            self._on_request(endpoint, time.monotonic() - started, error_kind)


def _error_kind(exc: Exception) -> str:
    return "timeout" if isinstance(exc, requests.Timeout) else "connection_error"


def _decode_json(response: requests.Response, method: str, path: str) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise DialfireResponseError(
            f"{method} {path}: malformed JSON ({exc}): {_excerpt(response)}"
        ) from exc


def _excerpt(response: requests.Response) -> str:
    return response.content[:200].decode("utf-8", errors="replace")
