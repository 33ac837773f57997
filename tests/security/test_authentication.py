"""API2 broken authentication: every /api/v1 route and method refuses bad credentials with 401.

The routes come from the app's URL map, so a route added later is covered without editing this
file; `test_every_api_route_is_classified` makes sure the tenancy probes know it too.
"""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

import jwt
import pytest

from shared import auth, db
from shared.services import organizations
from tests.security import routes


def test_every_api_route_is_classified(app):
    assert routes.api_routes(app), "no /api/v1 routes found"
    assert routes.unclassified(app) == [], (
        "add these routes to tests/security/routes.py CLASSIFIED (argument -> kind)")


def test_every_classified_route_still_exists(app):
    assert routes.stale_classifications(app) == [], (
        "these routes are gone: remove them from tests/security/routes.py CLASSIFIED / PUBLIC")


@pytest.fixture
def bad_credentials(org, settings) -> dict[str, dict[str, str]]:
    org_id = org["organization_id"]
    revoked = organizations.create_organization("Revoked key org")
    with db.transaction() as conn:
        assert auth.revoke_api_key(conn, uuid.UUID(revoked["organization_id"]),
                                   revoked["api_key"].split("_")[1])
    claims = {"org": org_id, "sub": "probe", "aud": "drippulse", "exp": 4102444800}
    tokens = {
        "revoked key": revoked["api_key"],
        "unknown key": "dp_000000000000_" + "x" * 43,
        "tampered key": org["api_key"][:-4] + "AAAA",
        "garbage": "not-a-token",
        "expired jwt": auth.issue_jwt(uuid.UUID(org_id), "probe", ttl=timedelta(seconds=-30)),
        "alg none": jwt.encode(claims, key=None, algorithm="none"),
        "wrong audience": jwt.encode(claims | {"aud": "someone-else"}, settings.secret_key,
                                     algorithm="HS256"),
        "wrong secret": jwt.encode(claims, "not-the-secret-" + "k" * 32, algorithm="HS256"),
        "unknown org": jwt.encode(claims | {"org": str(uuid.uuid4())}, settings.secret_key,
                                  algorithm="HS256"),
        "future nbf": jwt.encode(claims | {"nbf": 4102444000}, settings.secret_key,
                                 algorithm="HS256"),
        "no exp": jwt.encode({k: v for k, v in claims.items() if k != "exp"},
                             settings.secret_key, algorithm="HS256"),
    }
    headers = {name: {"Authorization": f"Bearer {tok}"} for name, tok in tokens.items()}
    headers["no header"] = {}
    headers["basic scheme"] = {"Authorization": "Basic dXNlcjpwYXNz"}
    headers["empty bearer"] = {"Authorization": "Bearer "}
    return headers


def test_every_route_refuses_bad_credentials_with_401_json(app, client, bad_credentials):
    failures = []
    for route in routes.protected_routes(app):
        values = {arg: str(uuid.uuid4()) for arg in route.params}
        url = routes.build_url(app, route, values)
        for method in route.methods:
            for name, headers in bad_credentials.items():
                resp = client.open(url, method=method, headers=headers, json={})
                body = resp.get_json(silent=True) or {}
                if resp.status_code != 401 or body.get("error", {}).get("code") != "unauthorized":
                    failures.append(f"{method} {route.rule} [{name}] -> {resp.status_code}")
    assert failures == []


def test_public_routes_need_no_credentials_and_hold_no_tenant_data(app, client, org):
    for route in routes.api_routes(app):
        if route.rule in routes.PUBLIC:
            resp = client.get(route.rule)
            assert resp.status_code == 200, route.rule
            assert org["organization_id"] not in resp.get_data(as_text=True)


def test_valid_credentials_pass(client, org):
    token = auth.issue_jwt(uuid.UUID(org["organization_id"]), "probe")
    for headers in (org["headers"], {"Authorization": f"Bearer {token}"}):
        assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_every_bad_token_gets_the_same_body(client, bad_credentials):
    bodies = {}
    for name, headers in bad_credentials.items():
        if name in ("no header", "basic scheme", "empty bearer"):
            continue  # these are told how to authenticate instead
        resp = client.get("/api/v1/me", headers=headers)
        assert resp.status_code == 401, name
        bodies[name] = resp.get_data(as_text=True)
    assert len(set(bodies.values())) == 1, bodies


def test_api_keys_are_stored_only_hashed_and_never_logged(client, org, caplog, capfd):
    key = org["api_key"]
    secret = key.split("_", 2)[2]
    client.get("/api/v1/me", headers=org["headers"])
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}x"})
    with db.transaction() as conn:
        dump = conn.exec_driver_sql(
            "SELECT string_agg(t::text, ' ') FROM crm.api_keys t").scalar()
    assert secret not in dump and key not in dump
    logged = caplog.text + "".join(capfd.readouterr())
    assert secret not in logged


def test_production_secret_key_rules_any_letter_case():
    from shared.config import ConfigError, load

    for env in ("production", "Production", "PRODUCTION"):
        for secret in (None, "drippulse-dev-secret-change-me", "x", "k" * 31):
            settings = load({"DRIPPULSE_ENV": env} | ({"SECRET_KEY": secret} if secret else {}))
            with pytest.raises(ConfigError, match="SECRET_KEY"):
                settings.check()
        load({"DRIPPULSE_ENV": env, "SECRET_KEY": "k" * 32}).check()


def test_up_warns_about_an_unfit_secret_key(capsys):
    from drippulse.commands.server import warn_secret_key
    from shared.config import load

    warn_secret_key(load({}))
    assert "SECRET_KEY" in capsys.readouterr().err


def test_jwts_over_secret_key_with_a_bounded_lifetime_and_a_printable_sub(client, app, org,
                                                                         settings):
    org_id = org["organization_id"]
    now = int(time.time())
    good = {"org": org_id, "sub": "probe", "aud": "drippulse", "exp": now + 600}

    def status(claims, secret=settings.secret_key) -> int:
        token = jwt.encode(claims, secret, algorithm="HS256")
        return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code

    assert status(good) == 200  # the contract: HS256 over SECRET_KEY
    # sessions sign with a key of their own: a session secret cannot mint JWTs, nor the reverse
    assert app.config["SECRET_KEY"] != settings.secret_key
    assert status(good, app.config["SECRET_KEY"]) == 401
    assert status(good | {"exp": 4102444800}) == 401  # year 2100
    assert status(good | {"sub": "a\nforged log line"}) == 401
    assert status(good | {"sub": "bell\x07"}) == 401
