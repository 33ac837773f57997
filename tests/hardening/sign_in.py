"""Dashboard sign-ins for the budget tests: a fresh member, an address of the test's own, the
form post with its CSRF token."""
from __future__ import annotations

import re
import secrets

from shared.services import organizations

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def member(label: str) -> str:
    """A fresh organization with a dashboard user; the user's email."""
    email = f"{label}-{secrets.token_hex(4)}@example.com"
    organizations.create_organization(f"{label} {secrets.token_hex(3)}", admin_email=email,
                                      admin_password=PASSWORD)
    return email


def own_address() -> str:
    # an address of the test's own, so no other test's failures count against it
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def form_token(client) -> str:
    return CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)


def sign_in(client, email: str, password: str, address: str, token: str | None = None,
            headers: dict | None = None):
    """POST /login from `address` (the TCP peer, REMOTE_ADDR)."""
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token or form_token(client)},
                       headers=headers or {}, environ_base={"REMOTE_ADDR": address})
