"""Per-organization request budget: one noisy tenant gets 429s, the others do not notice."""
from __future__ import annotations

import threading

from api.app import create_app
from tests.conftest import replace_settings


def test_over_budget_answers_429_with_retry_after_for_that_org_only(
        client, org, other_org, fresh_settings):
    replace_settings(fresh_settings, rate_limit_per_minute=3)
    statuses = [client.get("/api/v1/me", headers=org["headers"]).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]

    blocked = client.get("/api/v1/me", headers=org["headers"])
    assert blocked.status_code == 429
    assert blocked.json["error"]["code"] == "rate_limited"
    assert int(blocked.headers["Retry-After"]) >= 1
    assert blocked.json["error"]["details"]["retry_after"] == int(blocked.headers["Retry-After"])

    other = client.get("/api/v1/me", headers=other_org["headers"])
    assert other.status_code == 200
    assert other.headers["X-RateLimit-Limit"] == "3"
    assert other.headers["X-RateLimit-Remaining"] == "2"


def test_unauthenticated_and_probe_requests_spend_no_budget(client, org, fresh_settings):
    replace_settings(fresh_settings, rate_limit_per_minute=1)
    for _ in range(3):
        assert client.get("/api/v1/me").status_code == 401
        assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/me", headers=org["headers"]).status_code == 200


def test_redis_down_fails_open(org, fresh_settings):
    # the limiter's storage is chosen when the app is built, as in a real process
    app = create_app(replace_settings(fresh_settings, rate_limit_per_minute=1,
                                      redis_url="redis://127.0.0.1:1/0"))
    client = app.test_client()
    for _ in range(3):
        assert client.get("/api/v1/me", headers=org["headers"]).status_code == 200


def test_requests_in_flight_when_redis_fails_still_pass(org, fresh_settings):
    """The requests already waiting on Redis when it is declared down pass too (not 500): the
    fallback covers the next requests, and a storage error of one in flight is swallowed."""
    app = create_app(replace_settings(fresh_settings, rate_limit_per_minute=100,
                                      redis_url="redis://127.0.0.1:1/0"))
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def call() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.get("/api/v1/me", headers=org["headers"]).status_code)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 8
