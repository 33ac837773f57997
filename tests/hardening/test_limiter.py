"""Rate limits through flask-limiter (issue 19): the per-organization request budget and the
dashboard's sign-in budgets, on the session's real Redis (and on a dead one)."""
from __future__ import annotations

import logging
import re
import threading
import time

from api.app import create_app
from tests.conftest import replace_settings
from tests.hardening.sign_in import PASSWORD, form_token, member, own_address, sign_in

THROTTLED = "Too many failed sign-in attempts"


def test_a_parallel_burst_of_wrong_passwords_gets_five_checks_and_the_rest_429(app):
    email, address, burst = member("limits"), own_address(), 12
    clients = [app.test_client() for _ in range(burst)]
    tokens = [form_token(c) for c in clients]
    start = threading.Barrier(burst)
    statuses: list[int] = []

    def guess(client, token) -> None:
        start.wait()
        statuses.append(sign_in(client, email, "wrong password", address, token).status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [401] * 5 + [429] * (burst - 5)

    # the right password from that address is refused too, without a check, with a wait
    blocked = sign_in(app.test_client(), email, PASSWORD, address)
    assert blocked.status_code == 429
    assert THROTTLED in blocked.get_data(as_text=True)
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    # someone else signing in from the same address is not held up by those failures
    other = sign_in(app.test_client(), member("limits"), PASSWORD, address)
    assert other.status_code == 302


def test_a_browser_that_signed_in_before_is_not_locked_out_by_its_proxy_neighbour(app):
    email, proxy = member("limits"), own_address()  # everyone behind the proxy has its address
    user = app.test_client()
    assert sign_in(user, email, PASSWORD, proxy).status_code == 302
    user.post("/logout", data={"csrf_token": _csrf_of_signed_in_page(user)})

    attacker = app.test_client()
    for _ in range(5):
        assert sign_in(attacker, email, "guess", proxy).status_code == 401
    assert sign_in(attacker, email, "guess", proxy).status_code == 429
    # a made-up device cookie is no way around it
    attacker.set_cookie("drippulse_device", "forged.cookie", path="/login")
    assert sign_in(attacker, email, PASSWORD, proxy).status_code == 429

    # the real user's browser, same address, same email: signs in
    assert sign_in(user, email, PASSWORD, proxy).status_code == 302


def test_guessing_one_email_from_many_addresses_stops_at_its_budget(app):
    email = member("limits")
    # sequential on purpose: the email's budget counts failures (tested before the check,
    # charged after it), so a parallel burst could overshoot it by the guesses in flight
    statuses = [sign_in(app.test_client(), email, "", address).status_code
                for address in [own_address() for _ in range(5)] for _ in range(5)]
    # 5 addresses × 5 attempts: the email's own budget (20 failures an hour) ends the fifth
    # address' turn
    assert statuses == [401] * 20 + [429] * 5
    assert sign_in(app.test_client(), email, PASSWORD, own_address()).status_code == 429


def test_successful_sign_ins_from_new_browsers_spend_nothing_of_the_emails_budget(app):
    email = member("limits")
    # more than the email's 20 an hour, each from a browser new to it (no device cookie) at an
    # address of its own: none was a failure, so none is refused
    statuses = [sign_in(app.test_client(), email, PASSWORD, own_address()).status_code
                for _ in range(25)]
    assert statuses == [302] * 25
    assert sign_in(app.test_client(), email, "wrong", own_address()).status_code == 401


def test_wrong_guesses_lock_new_browsers_out_until_the_user_signs_in(app):
    email, user = member("limits"), app.test_client()
    assert sign_in(user, email, PASSWORD, own_address()).status_code == 302
    user.post("/logout", data={"csrf_token": _csrf_of_signed_in_page(user)})

    # 20 wrong guesses from 20 addresses: the email's budget for new browsers is spent
    assert [sign_in(app.test_client(), email, "guess", own_address()).status_code
            for _ in range(20)] == [401] * 20
    refused = sign_in(app.test_client(), email, PASSWORD, own_address())
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    # the user's own browser is not held up, and its sign-in gives new browsers their budget back
    assert sign_in(user, email, PASSWORD, own_address()).status_code == 302
    assert sign_in(app.test_client(), email, PASSWORD, own_address()).status_code == 302


def test_spraying_many_emails_from_one_address_stops_at_its_budget(app):
    address, email, user = own_address(), member("limits"), app.test_client()
    assert sign_in(user, email, PASSWORD, address).status_code == 302
    user.post("/logout", data={"csrf_token": _csrf_of_signed_in_page(user)})

    statuses = [sign_in(app.test_client(), f"spray-{n}@example.com", "", address).status_code
                for n in range(101)]
    assert statuses == [401] * 100 + [429]
    # a browser new to its email waits too at that address (the price of a spray budget) ...
    assert sign_in(app.test_client(), member("limits"), PASSWORD, address).status_code == 429
    # ... one that has signed in as its email before does not
    assert sign_in(user, email, PASSWORD, address).status_code == 302


def test_the_request_budget_answers_429_for_one_organization_only(
        client, org, other_org, fresh_settings):
    replace_settings(fresh_settings, rate_limit_per_minute=3)
    for remaining in (2, 1, 0):
        ok = client.get("/api/v1/me", headers=org["headers"])
        assert ok.status_code == 200
        assert ok.headers["X-RateLimit-Remaining"] == str(remaining)

    blocked = client.get("/api/v1/crm/accounts", headers=org["headers"])
    assert blocked.status_code == 429
    assert blocked.json["error"]["code"] == "rate_limited"
    retry_after = int(blocked.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert blocked.json["error"]["details"] == {"retry_after": retry_after}
    assert blocked.headers["X-RateLimit-Limit"] == "3"
    assert blocked.headers["X-RateLimit-Remaining"] == "0"
    # when the budget frees up again, as a time: no later than the wait it asks for
    assert time.time() < int(blocked.headers["X-RateLimit-Reset"]) <= time.time() + retry_after + 1

    other = client.get("/api/v1/crm/accounts", headers=other_org["headers"])
    assert other.status_code == 200
    assert other.headers["X-RateLimit-Remaining"] == "2"


def test_with_redis_down_requests_pass_and_sign_ins_stay_bounded(org, fresh_settings, caplog):
    app = create_app(replace_settings(fresh_settings, rate_limit_per_minute=1,
                                      redis_url="redis://127.0.0.1:1/0"))
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="api.ratelimit"):
        for _ in range(3):
            resp = client.get("/api/v1/me", headers=org["headers"])
            assert resp.status_code == 200
            assert "X-RateLimit-Limit" not in resp.headers
    assert [r.name for r in caplog.records if r.name == "api.ratelimit"] == ["api.ratelimit"]

    # sign-in budgets are kept in the process meanwhile: guessing is still cut off
    email, address = member("limits"), own_address()
    for _ in range(5):
        assert sign_in(app.test_client(), email, "guess", address).status_code == 401
    assert sign_in(app.test_client(), email, "guess", address).status_code == 429
    assert sign_in(app.test_client(), member("limits"), PASSWORD, address).status_code == 302


def _csrf_of_signed_in_page(client) -> str:
    html = client.get("/app/jobs").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)
