"""One webhook POST to an address that was already checked (addresses.check).

The connection goes to the checked IP while TLS verifies, and the Host header names, the URL's
host: no second DNS lookup can move the request elsewhere. Redirects are never followed (a
3xx counts as a failure), timeouts are short, and only the first KiB of the answer is read.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import urllib3

from shared.notifications.addresses import Target

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
EXCERPT_BYTES = 1024
USER_AGENT = "DripPulse-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    error: str | None
    excerpt: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _pool(target: Target, address: str) -> urllib3.HTTPConnectionPool:
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address, target.port, timeout=timeout, retries=False, maxsize=1,
            server_hostname=target.host, assert_hostname=target.host, cert_reqs="CERT_REQUIRED")
    return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False,
                                      maxsize=1)


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def post(target: Target, body: bytes, headers: dict[str, str]) -> Outcome:
    started = time.monotonic()
    send = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
            "Host": _host_header(target), **headers}
    pool = _pool(target, target.addresses[0])
    try:
        response = pool.urlopen("POST", target.path, body=body, headers=send, redirect=False,
                                retries=False, preload_content=False, assert_same_host=False)
        try:
            excerpt = response.read(EXCERPT_BYTES, decode_content=False)
        finally:
            response.release_conn()
        return Outcome(response.status, _ms(started), None,
                       excerpt.decode("utf-8", "replace") if excerpt else None)
    except urllib3.exceptions.HTTPError as exc:
        return Outcome(None, _ms(started), f"{type(exc).__name__}: {exc}"[:500], None)
    finally:
        pool.close()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
