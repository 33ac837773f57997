"""DRIPPULSE_TRUSTED_PROXIES: whose X-Forwarded-For the sign-in budgets believe.

With 0 (the default) the address is the TCP peer's, whatever a client writes in the header; with
N the app sits behind werkzeug's ProxyFix and the address is the one the last N proxies added.
Sign-ins are driven as in test_limiter.py: REMOTE_ADDR is the peer (here: the proxy).
"""
from __future__ import annotations

import re
import secrets

from werkzeug.middleware.proxy_fix import ProxyFix

from api.app import create_app
from shared import config
from shared.services import organizations
from tests.conftest import replace_settings

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _member() -> str:
    email = f"proxies-{secrets.token_hex(4)}@example.com"
    organizations.create_organization(f"Proxies {secrets.token_hex(3)}", admin_email=email,
                                      admin_password=PASSWORD)
    return email


def _address() -> str:
    # an address of the test's own, so no other test's failures count against it
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def _sign_in(client, email: str, password: str, peer: str, forwarded_for: str):
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       headers={"X-Forwarded-For": forwarded_for},
                       environ_base={"REMOTE_ADDR": peer})


def test_the_setting_is_read_from_the_environment():
    assert config.load({}).trusted_proxies == 0
    assert config.load({"DRIPPULSE_TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    assert config.load({"DRIPPULSE_TRUSTED_PROXIES": "-1"}).trusted_proxies == 0


def test_with_no_trusted_proxy_a_forged_forwarded_for_changes_nothing(app):
    assert app.config["TESTING"] and not isinstance(app.wsgi_app, ProxyFix)
    email, peer = _member(), _address()
    # a new client (browser) and a new forged address for every guess: one budget all the same
    statuses = [_sign_in(app.test_client(), email, "guess", peer, _address()).status_code
                for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    assert _sign_in(app.test_client(), email, PASSWORD, peer, _address()).status_code == 429


def test_behind_one_trusted_proxy_each_client_gets_its_own_budget(fresh_settings):
    app = create_app(replace_settings(fresh_settings, trusted_proxies=1))
    assert isinstance(app.wsgi_app, ProxyFix)
    email, proxy, first, second = _member(), _address(), _address(), _address()

    statuses = [_sign_in(app.test_client(), email, "guess", proxy, first).status_code
                for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    # another client behind the same proxy, same email: its own budget, and it signs in
    assert _sign_in(app.test_client(), email, "guess", proxy, second).status_code == 401
    assert _sign_in(app.test_client(), email, PASSWORD, proxy, second).status_code == 302

    # only the hop the trusted proxy appended counts: the first client forging more hops in
    # front of it is still the first client
    forged = f"{_address()}, {first}"
    assert _sign_in(app.test_client(), email, PASSWORD, proxy, forged).status_code == 429
