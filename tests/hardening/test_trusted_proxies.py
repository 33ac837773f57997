"""DRIPPULSE_TRUSTED_PROXIES: whose X-Forwarded-For the sign-in budgets believe.

With 0 (the default) the address is the TCP peer's, whatever a client writes in the header; with
N the app sits behind werkzeug's ProxyFix and the address is the one the last N proxies added.
Sign-ins are driven as in test_limiter.py: REMOTE_ADDR is the peer (here: the proxy).
"""
from __future__ import annotations

from werkzeug.middleware.proxy_fix import ProxyFix

from api.app import create_app
from shared import config
from tests.conftest import replace_settings
from tests.hardening.sign_in import PASSWORD, member, own_address, sign_in


def _sign_in(client, email: str, password: str, peer: str, forwarded_for: str):
    return sign_in(client, email, password, peer, headers={"X-Forwarded-For": forwarded_for})


def test_the_setting_is_read_from_the_environment():
    assert config.load({}).trusted_proxies == 0
    assert config.load({"DRIPPULSE_TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    assert config.load({"DRIPPULSE_TRUSTED_PROXIES": "-1"}).trusted_proxies == 0


def test_with_no_trusted_proxy_a_forged_forwarded_for_changes_nothing(app):
    assert app.config["TESTING"] and not isinstance(app.wsgi_app, ProxyFix)
    email, peer = member("proxies"), own_address()
    # a new client (browser) and a new forged address for every guess: one budget all the same
    statuses = [_sign_in(app.test_client(), email, "guess", peer, own_address()).status_code
                for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    assert _sign_in(app.test_client(), email, PASSWORD, peer, own_address()).status_code == 429


def test_behind_one_trusted_proxy_each_client_gets_its_own_budget(fresh_settings):
    app = create_app(replace_settings(fresh_settings, trusted_proxies=1))
    assert isinstance(app.wsgi_app, ProxyFix)
    email, proxy, first, second = member("proxies"), own_address(), own_address(), own_address()

    statuses = [_sign_in(app.test_client(), email, "guess", proxy, first).status_code
                for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    # another client behind the same proxy, same email: its own budget, and it signs in
    assert _sign_in(app.test_client(), email, "guess", proxy, second).status_code == 401
    assert _sign_in(app.test_client(), email, PASSWORD, proxy, second).status_code == 302

    # only the hop the trusted proxy appended counts: the first client forging more hops in
    # front of it is still the first client
    forged = f"{own_address()}, {first}"
    assert _sign_in(app.test_client(), email, PASSWORD, proxy, forged).status_code == 429
