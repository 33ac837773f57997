"""The client's transport: one API call with bounded retries and back-off (honouring
Retry-After), the key sent to the API's own host only, and the errors a call can raise."""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

log = logging.getLogger("drippulse.client")

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


class DripPulseError(Exception):
    """Base of every error this client raises."""


class ApiError(DripPulseError):
    """The server answered with an error body `{"error": {"code", "message", "details"}}`."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiError:
        try:
            body = response.json()["error"]
            return cls(response.status_code, str(body.get("code") or "error"),
                       str(body.get("message") or response.reason), body.get("details"))
        except (ValueError, KeyError, TypeError, AttributeError):
            text = response.text[:200].strip() or response.reason or "no message"
            return cls(response.status_code, "http_error", text)


class TransportError(DripPulseError):
    """The server could not be reached (after the retries)."""


class JobTimeout(DripPulseError):
    """wait_for_job gave up before the job finished (the job itself goes on)."""


class ApiTransport:
    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0,
                 max_retries: int = 5, max_retry_wait: float = 30.0,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.token = token
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "drippulse-cli/0.1"
        self._sleep = sleep

    # ---- plumbing -------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/")) if not path.startswith("http") else path

    def _same_origin(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def _retry_delay(self, attempt: int, response: requests.Response | None) -> float:
        if response is not None:
            header = response.headers.get("Retry-After", "")
            if header.strip().isdigit():
                return min(float(header), self.max_retry_wait)
        # exponential with jitter, so many clients hitting one busy server spread out
        return min(self.max_retry_wait, 0.5 * 2 ** attempt) * (0.5 + random.random() / 2)

    def request(self, method: str, path: str, *, body_factory: Callable[[], Any] | None = None,
                json: Any = None, params: dict | None = None, headers: dict | None = None,
                stream: bool = False, expect: tuple[int, ...] = (200,),
                retry: bool = True) -> requests.Response:
        """One API call with bounded retries; `body_factory` rebuilds a streamed body per try.

        POSTs are only retried when they carry an Idempotency-Key (or are naturally idempotent,
        which the caller signals by passing one): the server then answers a repeat with the
        job it already made.
        """
        url = self._url(path)
        send_headers = dict(headers or {})
        if self._same_origin(url):  # never hand the key to a storage host (signed URLs)
            send_headers["Authorization"] = f"Bearer {self.token}"
        retry_safe = retry and (method in ("GET", "HEAD") or "Idempotency-Key" in send_headers)
        attempt = 0
        while True:
            response = None
            try:
                response = self.session.request(
                    method, url, params=params, json=json, headers=send_headers,
                    data=body_factory() if body_factory else None, stream=stream,
                    timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not retry_safe or attempt >= self.max_retries:
                    raise TransportError(self._unreachable(exc)) from exc
                log.debug("connection problem on %s %s: %s", method, url, exc)
            else:
                if response.status_code in expect:
                    return response
                if (response.status_code not in RETRYABLE_STATUSES or not retry_safe
                        or attempt >= self.max_retries):
                    error = ApiError.from_response(response)
                    response.close()
                    raise error
                response.close()
            delay = self._retry_delay(attempt, response)
            log.info("retrying %s %s in %.1fs", method, url, delay)
            self._sleep(delay)
            attempt += 1

    def _unreachable(self, exc: Exception) -> str:
        """One line a person can act on; urllib3's own text (pool, socket, errno) is for
        --debug logs."""
        log.debug("transport error: %s", exc)
        base = self.base_url.rstrip("/")
        if isinstance(exc, requests.Timeout):
            return f"{base} did not answer within {self.timeout:.0f}s: is the server busy?"
        if isinstance(exc, requests.exceptions.SSLError):
            return f"cannot reach {base}: TLS handshake failed (check the URL's scheme)"
        text = str(exc)
        reason = ("connection refused" if "refused" in text.lower()
                  else "host not found" if "resolve" in text.lower() or "name or service" in
                  text.lower() else "connection failed")
        return f"cannot reach {base} ({reason}): is the server running?"

    def _json(self, method: str, path: str, **kwargs) -> Any:
        return self.request(method, path, **kwargs).json()

