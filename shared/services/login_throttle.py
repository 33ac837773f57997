"""Dashboard sign-in budgets: how many password checks an email, a browser and an address get.

The (email, client) budget is charged *before* its password is checked, with one atomic Redis
script (the `limits` package's moving window), so a burst of parallel guesses gets exactly its
number of checks and the rest are refused without one. The budgets:

- per (email, client), 5 attempts in any 15 minutes; a successful sign-in clears it. The client
  is the browser when it has signed in as this email before (its device id, see
  api/routes/dashboard_auth.py), otherwise the address the request came from.
- per email, 20 failed checks in any hour from browsers not known for that email, whatever their
  address: someone guessing from many addresses gets no more than that (plus the guesses in
  flight when it runs out). Only failures count (checked before, charged after a wrong
  password) and a successful sign-in clears it, so neither the user's own sign-ins from new
  browsers nor anyone else's lock that email; 20 wrong guesses do lock new browsers out of it
  until the hour has passed or the user signs in from a browser known for it.
- per address, 100 failed checks in any 15 minutes over all emails, from browsers not known for
  the email: bounds password spraying (one guess for many emails). Only failures count (checked
  before, charged after a wrong password), so a proxy's many successful sign-ins cost nothing.

A browser known for the email is charged only its own budget: nobody else's failures, on that
email or from the same proxy address, can lock it out. The numbers and the reasoning are in
docs/hardening.md ("Request and sign-in budgets").

No Flask here: the API hands in the storage its flask-limiter extension uses. When that storage
fails, the budgets are kept in this process's memory until it answers again, so a Redis outage
neither locks everyone out nor lets guessing run unbounded.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

PER_EMAIL_CLIENT = RateLimitItemPerMinute(5, 15, namespace="signin-email-client")
PER_EMAIL = RateLimitItemPerHour(20, 1, namespace="signin-email")
PER_ADDRESS_FAILURES = RateLimitItemPerMinute(100, 15, namespace="signin-address")
RETRY_STORAGE_SECONDS = 5.0  # how long to stay on the in-memory budgets after a storage error

T = TypeVar("T")


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt, as the budgets see it."""

    email: str
    address: str  # the client address the app sees (request.remote_addr)
    device: str | None = None  # the browser's device id, when it has signed in as `email`

    @property
    def email_key(self) -> str:
        return email_digest(self.email)

    @property
    def address_key(self) -> str:
        return _digest(_address_block(self.address))

    @property
    def client_key(self) -> str:
        return f"device:{_digest(self.device)}" if self.device else f"address:{self.address_key}"


class SignInThrottle:
    """The sign-in budgets on a `limits` storage (Redis), with an in-memory stand-in."""

    def __init__(self, storage: Storage) -> None:
        self._shared = MovingWindowRateLimiter(storage)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._local_until = 0.0
        self._storage_down = False
        self._lock = threading.Lock()

    def admit(self, attempt: Attempt) -> int:
        """Charge the attempt; 0 when its password may be checked, else seconds to wait."""
        return self._run(self._admit, attempt)

    def failed(self, attempt: Attempt) -> None:
        """The password was wrong: count it against the email and the address (unknown
        browsers only)."""
        if attempt.device is None:
            self._run(_charge_failure, attempt)

    def succeeded(self, attempt: Attempt) -> None:
        """A right password gives this email (and this client) their budgets back."""
        self._run(_clear_on_success, attempt)

    def _admit(self, limiter: MovingWindowRateLimiter, attempt: Attempt) -> int:
        # the failure budgets are only tested here (charged by `failed`); the (email, client)
        # one, charged atomically, goes last, so an attempt refused by any budget spends nothing
        checks: list[tuple[RateLimitItem, tuple[str, ...], bool]] = []
        if attempt.device is None:
            checks.append((PER_ADDRESS_FAILURES, (attempt.address_key,), False))
            checks.append((PER_EMAIL, (attempt.email_key,), False))
        checks.append((PER_EMAIL_CLIENT, (attempt.email_key, attempt.client_key), True))
        for item, identifiers, charge in checks:
            allowed = (limiter.hit(item, *identifiers) if charge
                       else limiter.test(item, *identifiers))
            if not allowed:
                reset_at = limiter.get_window_stats(item, *identifiers).reset_time
                return max(1, math.ceil(reset_at - time.time()))
        return 0

    def _run(self, step: Callable[[MovingWindowRateLimiter, Attempt], T], attempt: Attempt) -> T:
        if time.monotonic() >= self._local_until:
            try:
                result = step(self._shared, attempt)
            except StorageError as exc:
                self._storage_failed(exc)
            else:
                if self._storage_down:
                    self._storage_down = False
                    log.info("sign-in budgets: storage answers again")
                return result
        return step(self._local, attempt)

    def _storage_failed(self, exc: StorageError) -> None:
        # one warning per outage, not one per attempt; Redis is tried again every few seconds
        with self._lock:
            if not self._storage_down:
                self._storage_down = True
                log.warning("sign-in budgets: storage unreachable (%s); counting in this "
                            "process until it answers", type(exc.storage_error).__name__)
            self._local_until = time.monotonic() + RETRY_STORAGE_SECONDS


def _charge_failure(limiter: MovingWindowRateLimiter, attempt: Attempt) -> None:
    limiter.hit(PER_EMAIL, attempt.email_key)
    limiter.hit(PER_ADDRESS_FAILURES, attempt.address_key)


def _clear_on_success(limiter: MovingWindowRateLimiter, attempt: Attempt) -> None:
    limiter.clear(PER_EMAIL_CLIENT, attempt.email_key, attempt.client_key)
    limiter.clear(PER_EMAIL, attempt.email_key)


def email_digest(email: str) -> str:
    """How budgets (and the API's device cookies) name an email without holding it."""
    return _digest(email.strip().lower())


def _digest(text: str) -> str:
    # no email addresses or client addresses in Redis keys
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _address_block(address: str) -> str:
    """IPv6 clients are counted per /64: one host usually holds a whole /64 to rotate through."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)
