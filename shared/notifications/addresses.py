"""SSRF guard: a webhook URL must resolve to public addresses only.

Checked when a webhook is created or changed and again before every delivery, which then
connects to the address that was checked (`http.post`), so DNS cannot answer differently
between the check and the connect. DRIPPULSE_WEBHOOKS_ALLOW_PRIVATE=1 lifts the address rule
(tests, receivers on the operator's own network); the URL rules stay.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.config import get_settings

MAX_URL_LENGTH = 2000
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """The URL is malformed or points somewhere webhooks may not go."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (the TLS name and the Host header)
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]  # the checked addresses, in resolver order


def parse(url: str) -> tuple[str, str, int, str]:
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"must be an http(s) URL of at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("must be an http or https URL with a host")
    if parts.username or parts.password:
        raise UnsafeUrl("must not carry credentials; verify the signature instead")
    if parts.fragment:
        raise UnsafeUrl("must not have a fragment")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def forbidden(ip: IP) -> bool:
    """Loopback, private, link-local, reserved, multicast, unspecified, shared (CGNAT)…:
    anything that is not a global unicast address, seen through IPv4-mapped IPv6."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (not ip.is_global or ip.is_multicast or ip.is_private or ip.is_loopback
            or ip.is_link_local or ip.is_reserved or ip.is_unspecified)


def resolve(host: str, port: int) -> list[IP]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"host {host!r} does not resolve: {exc}") from None
    seen: list[IP] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if ip not in seen:
            seen.append(ip)
    if not seen:
        raise UnsafeUrl(f"host {host!r} has no address")
    return seen


def check(url: str) -> Target:
    """Parse, resolve, and refuse the URL unless every address is allowed."""
    scheme, host, port, path = parse(url)
    addresses = resolve(host, port)
    if not get_settings().webhooks_allow_private:
        bad = [str(ip) for ip in addresses if forbidden(ip)]
        if bad:
            raise UnsafeUrl(f"resolves to a loopback, link-local, private or reserved address "
                            f"({', '.join(bad)}); set DRIPPULSE_WEBHOOKS_ALLOW_PRIVATE=1 to "
                            f"allow it")
    return Target(scheme, host, port, path, tuple(str(ip) for ip in addresses))
