"""Dashboard fixtures: an organization with a user who can sign in."""
from __future__ import annotations

import re
import secrets

import pytest

from shared.services import organizations

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def member(settings) -> dict:
    """A fresh organization and its admin user (email unique per test)."""
    email = f"admin-{secrets.token_hex(4)}@example.com"
    created = organizations.create_organization(f"Acme {secrets.token_hex(3)}",
                                                admin_email=email, admin_password=PASSWORD)
    created["password"] = PASSWORD
    created["headers"] = {"Authorization": f"Bearer {created['api_key']}"}
    return created


def login_form_token(client) -> str:
    page = client.get("/login")
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, "the sign-in form carries a CSRF token"
    return match.group(1)


def sign_in(client, email: str, password: str, **kwargs):
    token = login_form_token(client)
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token}, **kwargs)


def page_csrf(client, path: str = "/app/jobs") -> str:
    """The CSRF token a signed-in page hands its scripts."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)
